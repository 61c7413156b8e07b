// Scenario shared by every generator of test/upstream: the pods, containers and devices a
// generator asks the upstream runtime for, the fake sysfs the runtime resolves devices from,
// the OCI bundles a container engine would have written, and the manifest of what was asked
// and what the runtime's own status API reported back.
//
// This file is copied, with one drive_<family>.go, into an extracted upstream source tree
// at generation time (test/upstream/regenerate.sh); it is never built inside the project.
// It must run as root inside a private mount namespace where /run, /var/lib, /sys/dev,
// /sys/kernel/iommu_groups and /sys/fs/cgroup are scratch directories.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Engines: who created the pod, which decides the OCI annotations and the bundle path.
const (
	engineCrio       = "cri-o"
	engineContainerd = "containerd"
	engineDocker     = "docker"
)

// Final states the generator drives a pod to.
const (
	goalCreated = "created" // created, never started
	goalRunning = "running"
	goalPaused  = "paused" // running, one workload container paused
	goalStopped = "stopped"
)

type devicePlan struct {
	Kind          string `json:"kind"` // vfio, block, generic
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"` // what the fake sysfs resolves (major:minor -> DEVNAME)
	DevType       string `json:"devType"`
	Major         int64  `json:"major"`
	Minor         int64  `json:"minor"`
	BDF           string `json:"bdf,omitempty"` // the sysfs name of the VFIO group's device
}

type containerPlan struct {
	Name    string       `json:"name"` // "" for the sandbox
	ID      string       `json:"id"`
	Sandbox bool         `json:"sandbox"`
	Image   string       `json:"image"` // the image annotation the engine writes ("" = none)
	Devices []devicePlan `json:"devices"`
	Mounts  int          `json:"specMounts"`
	Bundle  string       `json:"bundle"`
	// filled from the runtime's status API after the run
	State     string `json:"state"`
	PID       int    `json:"pid"`
	StartTime string `json:"startTime"`
}

type podPlan struct {
	Label       string `json:"label"`
	ID          string `json:"id"`
	Engine      string `json:"engine"`
	Goal        string `json:"goal"`
	BlockDriver string `json:"blockDriver"`
	Namespace   string `json:"namespace"`
	PodName     string `json:"podName"`
	UID         string `json:"uid"`
	// Boot vCPUs and memory (MiB) of the VM: asked for, then as the runtime's OCI front end
	// set them in the sandbox config handed to the runtime (the driver writes them back).
	VCPUs      uint32          `json:"vcpus"`
	MemoryMiB  uint32          `json:"memoryMiB"`
	Containers []containerPlan `json:"containers"`
	// filled from the runtime's status API after the run
	State string `json:"state"`
}

type manifest struct {
	Generator string    `json:"generator"`
	Upstream  string    `json:"upstream"`
	Pods      []podPlan `json:"pods"`
	// what the driver reports about the runtime (hypervisor/agent/... types it was given)
	Runtime map[string]string `json:"runtime"`
}

// podStatus / containerStatus: what the runtime's status API says after the run.
type containerStatus struct {
	ID        string
	State     string
	PID       int
	StartTime time.Time
}

type podStatus struct {
	State      string
	Containers []containerStatus
}

// driver is implemented once per upstream API family (drive_<family>.go).
type driver interface {
	// runPod creates the pod (sandbox first, then its containers), drives it to p.Goal.
	runPod(p *podPlan, specsByID map[string]*specs.Spec) error
	status(p *podPlan) (podStatus, error)
	runtimeInfo() map[string]string
	name() string
}

func id(seed string) string {
	sum := sha256.Sum256([]byte("virtcontainers-exporter/" + seed))
	return hex.EncodeToString(sum[:])
}

func uid(seed string) string {
	h := id("uid/" + seed)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Devices of the scenario. Host and container paths differ for the block device and for
// one generic device (a renamed char device), as an engine's --device host:container does.
var (
	devVFIO    = devicePlan{Kind: "vfio", ContainerPath: "/dev/vfio/42", HostPath: "/dev/vfio/42", DevType: "c", Major: 241, Minor: 0, BDF: "0000:04:00.0"}
	devSCSI    = devicePlan{Kind: "block", ContainerPath: "/dev/xvdb", HostPath: "/dev/sdb", DevType: "b", Major: 8, Minor: 16}
	devVirtio  = devicePlan{Kind: "block", ContainerPath: "/dev/vdc", HostPath: "/dev/sdc", DevType: "b", Major: 8, Minor: 32}
	devFuse    = devicePlan{Kind: "generic", ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", DevType: "c", Major: 10, Minor: 229}
	devRenamed = devicePlan{Kind: "generic", ContainerPath: "/dev/accel0", HostPath: "/dev/net/tun", DevType: "c", Major: 10, Minor: 200}
)

func scenario(features map[string]bool) []podPlan {
	crio := func(label, goal string, ctrs ...containerPlan) podPlan {
		return podPlan{Label: label, Engine: engineCrio, Goal: goal, Namespace: "team-" + label, PodName: label + "-0", Containers: ctrs}
	}
	ctr := func(name, image string, devs ...devicePlan) containerPlan {
		return containerPlan{Name: name, Image: image, Devices: append([]devicePlan{}, devs...)}
	}
	// CRI-O annotates the sandbox with the pause image; containerd's sandbox and plain Docker
	// carry no image annotation.
	sandbox := func(image string) containerPlan {
		return containerPlan{Sandbox: true, Image: image, Devices: []devicePlan{}}
	}
	pause := "registry.k8s.io/pause:3.1"
	pods := []podPlan{
		crio("crio-running", goalRunning, sandbox(pause),
			ctr("infer", "quay.io/example/infer:1.4", devVFIO, devFuse, devRenamed),
			ctr("loader", "quay.io/example/loader:2.0", devSCSI)),
		crio("crio-stopped", goalStopped, sandbox(pause), ctr("web", "docker.io/library/nginx:1.25")),
		crio("crio-created", goalCreated, sandbox(pause), ctr("web", "docker.io/library/nginx:1.25")),
		{Label: "containerd-paused", Engine: engineContainerd, Goal: goalPaused, Namespace: "batch", PodName: "worker-7",
			BlockDriver: "virtio-blk",
			Containers:  []containerPlan{sandbox(""), ctr("worker", "docker.io/library/busybox:1.36", devVirtio, devFuse)}},
		{Label: "docker-running", Engine: engineDocker, Goal: goalRunning,
			Containers: []containerPlan{sandbox("")}},
	}
	for i := range pods {
		p := &pods[i]
		p.ID = id("pod/" + p.Label)
		if p.BlockDriver == "" {
			p.BlockDriver = "virtio-scsi"
		}
		if p.Engine != engineDocker {
			p.UID = uid(p.Label)
		}
		p.VCPUs = uint32(1 + i%2)
		p.MemoryMiB = uint32(512 * (1 + i%3))
		for j := range p.Containers {
			c := &p.Containers[j]
			if c.Sandbox {
				c.ID = p.ID
			} else {
				c.ID = id("ctr/" + p.Label + "/" + c.Name)
			}
			if !features["vfio"] {
				c.Devices = without(c.Devices, "vfio")
			}
		}
	}
	return pods
}

func without(ds []devicePlan, kind string) []devicePlan {
	out := []devicePlan{}
	for _, d := range ds {
		if d.Kind != kind {
			out = append(out, d)
		}
	}
	return out
}

// fakeSysfs writes what the runtime reads to resolve devices: /sys/dev/<char|block>/M:m/uevent
// (DEVNAME) and /sys/kernel/iommu_groups/<group>/devices/<bdf>.
func fakeSysfs(pods []podPlan) error {
	for _, p := range pods {
		for _, c := range p.Containers {
			for _, d := range c.Devices {
				class := "char"
				if d.DevType == "b" {
					class = "block"
				}
				dir := fmt.Sprintf("/sys/dev/%s/%d:%d", class, d.Major, d.Minor)
				if err := os.MkdirAll(dir, 0755); err != nil {
					return err
				}
				uevent := fmt.Sprintf("MAJOR=%d\nMINOR=%d\nDEVNAME=%s\n", d.Major, d.Minor, strings.TrimPrefix(d.HostPath, "/dev/"))
				if err := ioutil.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0644); err != nil {
					return err
				}
				if d.Kind == "vfio" {
					g := filepath.Join("/sys/kernel/iommu_groups", filepath.Base(d.HostPath), "devices", d.BDF)
					if err := os.MkdirAll(g, 0755); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// bundlePath: where each engine keeps a container's OCI bundle.
func bundlePath(p *podPlan, c *containerPlan) string {
	switch p.Engine {
	case engineCrio:
		return "/run/containers/storage/overlay-containers/" + c.ID + "/userdata"
	case engineContainerd:
		return "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + c.ID
	default:
		return "/run/containerd/io.containerd.runtime.v1.linux/moby/" + c.ID
	}
}

func annotations(p *podPlan, c *containerPlan) map[string]string {
	a := map[string]string{}
	ctype := "container"
	if c.Sandbox {
		ctype = "sandbox"
	}
	switch p.Engine {
	case engineCrio:
		a["io.kubernetes.cri-o.ContainerType"] = ctype
		a["io.kubernetes.cri-o.SandboxID"] = p.ID
		a["io.kubernetes.cri-o.ContainerID"] = c.ID
		if c.Image != "" {
			a["io.kubernetes.cri-o.ImageName"] = c.Image
		}
		a["io.kubernetes.pod.name"] = p.PodName
		a["io.kubernetes.pod.namespace"] = p.Namespace
		a["io.kubernetes.pod.uid"] = p.UID
		if !c.Sandbox {
			a["io.kubernetes.container.name"] = c.Name
		}
	case engineContainerd:
		a["io.kubernetes.cri.container-type"] = ctype
		a["io.kubernetes.cri.sandbox-id"] = p.ID
		a["io.kubernetes.cri.sandbox-name"] = p.PodName
		a["io.kubernetes.cri.sandbox-namespace"] = p.Namespace
		a["io.kubernetes.cri.sandbox-uid"] = p.UID
		if !c.Sandbox {
			a["io.kubernetes.cri.container-name"] = c.Name
			if c.Image != "" {
				a["io.kubernetes.cri.image-name"] = c.Image
			}
		}
	}
	return a
}

func ociSpec(p *podPlan, c *containerPlan) *specs.Spec {
	u := uint32(0)
	mode := os.FileMode(0666)
	devs := []specs.LinuxDevice{}
	for _, d := range c.Devices {
		devs = append(devs, specs.LinuxDevice{Path: d.ContainerPath, Type: d.DevType, Major: d.Major, Minor: d.Minor, FileMode: &mode, UID: &u, GID: &u})
	}
	quota, period := int64(100000), uint64(100000)
	shares := uint64(1024)
	limit := int64(256 << 20)
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	if !c.Sandbox {
		mounts = append(mounts, specs.Mount{Destination: "/etc/hostname", Type: "bind", Source: filepath.Join(bundlePath(p, c), "hostname"), Options: []string{"rbind", "rprivate", "ro"}})
	}
	cgroupParent := "/kubepods/pod" + p.UID
	if p.Engine == engineDocker {
		cgroupParent = "/docker"
	}
	s := &specs.Spec{
		Version:  "1.0.1",
		Hostname: p.PodName,
		Root:     &specs.Root{Path: "/var/lib/containers/storage/overlay/" + c.ID + "/merged"},
		Process: &specs.Process{
			Args: []string{"/bin/sh", "-c", "sleep infinity"},
			Env:  []string{"PATH=/usr/bin:/bin"},
			Cwd:  "/",
			User: specs.User{UID: 0, GID: 0},
		},
		Mounts:      mounts,
		Annotations: annotations(p, c),
		Linux: &specs.Linux{
			CgroupsPath: cgroupParent + "/" + c.ID,
			Devices:     devs,
			Resources: &specs.LinuxResources{
				CPU: &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period},
			},
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}},
		},
	}
	if !c.Sandbox {
		// A workload container's memory limit (the sandbox has none, as with CRI-O and
		// containerd); virtcontainers' front end sizes the VM from the sandbox's limit.
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	}
	c.Mounts = len(mounts)
	return s
}

func writeBundle(path string, s *specs.Spec) error {
	if err := os.MkdirAll(path, 0700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	if err := ioutil.WriteFile(filepath.Join(path, "hostname"), []byte(s.Hostname+"\n"), 0644); err != nil {
		return err
	}
	return ioutil.WriteFile(filepath.Join(path, "config.json"), b, 0600)
}

func main() {
	out := flag.String("manifest", "", "write the manifest here")
	upstream := flag.String("upstream", "", "upstream repository and ref, recorded in the manifest")
	feats := flag.String("features", "vfio", "comma-separated scenario features")
	only := flag.String("only", "", "comma-separated pod labels (default: all)")
	flag.Parse()
	features := map[string]bool{}
	for _, f := range strings.Split(*feats, ",") {
		features[f] = true
	}
	if err := run(*out, *upstream, features, *only); err != nil {
		fmt.Fprintln(os.Stderr, "generator:", err)
		os.Exit(1)
	}
}

func run(out, upstream string, features map[string]bool, only string) error {
	all := scenario(features)
	pods := all[:0]
	for _, p := range all {
		if only == "" || strings.Contains(","+only+",", ","+p.Label+",") {
			pods = append(pods, p)
		}
	}
	if err := fakeSysfs(pods); err != nil {
		return err
	}
	d, err := newDriver()
	if err != nil {
		return err
	}
	for i := range pods {
		p := &pods[i]
		byID := map[string]*specs.Spec{}
		for j := range p.Containers {
			c := &p.Containers[j]
			s := ociSpec(p, c)
			c.Bundle = bundlePath(p, c)
			if err := writeBundle(c.Bundle, s); err != nil {
				return err
			}
			byID[c.ID] = s
		}
		if err := d.runPod(p, byID); err != nil {
			return fmt.Errorf("pod %s: %v", p.Label, err)
		}
		st, err := d.status(p)
		if err != nil {
			return fmt.Errorf("status of pod %s: %v", p.Label, err)
		}
		p.State = st.State
		for j := range p.Containers {
			c := &p.Containers[j]
			for _, cs := range st.Containers {
				if cs.ID == c.ID {
					c.State, c.PID = cs.State, cs.PID
					if !cs.StartTime.IsZero() {
						c.StartTime = cs.StartTime.UTC().Format(time.RFC3339Nano)
					}
				}
			}
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].ID < pods[j].ID })
	m := manifest{Generator: d.name(), Upstream: upstream, Pods: pods, Runtime: d.runtimeInfo()}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return ioutil.WriteFile(out, append(b, '\n'), 0644)
}
