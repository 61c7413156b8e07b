/**
 * persist.json of the Go runtime. Inputs follow the upstream structs, in their key order:
 * kata-containers/runtime 1.11.0 virtcontainers/persist/api/*.go (1.11/1.12), and
 * kata-containers/kata-containers src/runtime/virtcontainers/persist/api/*.go at 2.0.0,
 * 2.2.0, 2.4.0 (+ src/runtime/pkg/hypervisors/hypervisor_state.go) and 3.3.0/HEAD
 * (+ src/runtime/pkg/device/config/config.go DeviceState, NumVCPUsF).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import type { DeviceInfo, PersistSandboxInfo } from "../../../src/format/model.js";
import { resolveDeviceRefs } from "../../../src/format/kata1.js";
import {
  NO_OCI_ANNOTATIONS,
  parsePersistContainer,
  parsePersistSandbox,
  persistMemoryBytes,
  persistVCPUs,
} from "../../../src/format/persist.js";
import {
  DEEP_ARRAY,
  POD_NAME,
  POD_UID,
  darr,
  describeRobustness,
  dobj,
  errorOf,
  okValue,
  outcome,
  render,
  seededRandom,
  truncationFailures,
  type Doc,
  type Json,
  type JsonObject,
} from "./helpers.js";

const SB = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const CID = "44431ee052e546680bc0d25627f8e099f488dd974f38a2bc66825ee6f8be7e1a";
const VFIO_ID = "5d6f2b9e0c1a3e47";
const BLOCK_ID = "11a9404d0c8f17cb";
const GENERIC_ID = "c3e1a7f09b2d4658";
const NETNS = "/var/run/netns/cni-7c1a3f3e-4a53-0f2b-8a53-8e2c1f4b5d6e";
const BUNDLE = `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${CID}`;

type Version = "1.11" | "2.0" | "2.2" | "2.4" | "3.3";

const K8S_SANDBOX = {
  "io.kubernetes.cri.container-type": "sandbox",
  "io.kubernetes.cri.sandbox-id": SB,
  "io.kubernetes.cri.sandbox-name": POD_NAME,
  "io.kubernetes.cri.sandbox-namespace": "ml-serving",
  "io.kubernetes.cri.sandbox-uid": POD_UID,
};
const K8S_CONTAINER = {
  "io.kubernetes.cri.container-type": "container",
  "io.kubernetes.cri.sandbox-id": SB,
  "io.kubernetes.cri.sandbox-name": POD_NAME,
  "io.kubernetes.cri.sandbox-namespace": "ml-serving",
  "io.kubernetes.cri.sandbox-uid": POD_UID,
  "io.kubernetes.cri.container-name": "infer",
  "io.kubernetes.cri.image-name": "docker.io/tensorflow/serving:2.11.0",
};

/** ContainerConfig {ID, Annotations, RootFs, Resources}; 2.2+ annotations are the OCI ones + kata keys. */
function containerConfig(v: Version, id: string, sandbox: boolean): JsonObject {
  const kata = {
    "io.katacontainers.pkg.oci.bundle_path": `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${id}`,
    "io.katacontainers.pkg.oci.container_type": sandbox ? "pod_sandbox" : "pod_container",
  };
  const full = v === "1.11" || v === "2.0" ? kata : { ...(sandbox ? K8S_SANDBOX : K8S_CONTAINER), ...kata };
  const resources = {
    devices: [{ allow: false, access: "rwm" }],
    cpu: { shares: 2, quota: 200000, period: 100000 },
  };
  return v === "3.3"
    ? { Annotations: full, Resources: resources, ID: id, RootFs: "" }
    : { ID: id, Annotations: full, RootFs: "", Resources: resources };
}

/** The three devices of the pod: a VFIO group, a hot-plugged virtio-blk disk and /dev/fuse. */
function devices(v: Version): Json[] {
  const vfioDev: JsonObject =
    v === "3.3"
      ? {
          ID: "vfio-5d6f2b9e0c1a3e470",
          BDF: "0000:04:00.0",
          SysfsDev: "/sys/bus/pci/devices/0000:04:00.0",
          DevfsDev: "/dev/vfio/42",
          VendorID: "0x10de",
          DeviceID: "0x1db4",
          Class: "0x030200",
          Bus: "",
          GuestPciPath: "02/00",
          Type: 1,
          IsPCIe: true,
          APDevices: null,
          Port: "root-port",
          HostPath: "/dev/vfio/42",
        }
      : {
          ID: "vfio-5d6f2b9e0c1a3e470",
          Type: 1,
          BDF: "04:00.0",
          SysfsDev: "/sys/bus/pci/devices/0000:04:00.0",
        };
  const drive = {
    File: "/dev/sdb",
    Format: "raw",
    ID: `drive-${BLOCK_ID}`,
    Index: 0,
    MmioAddr: "",
    PCIPath: "02/01",
    SCSIAddr: "",
    NvdimmID: "",
    VirtPath: "/dev/vdb",
    DevNo: "",
    Pmem: false,
  };
  const state = (
    id: string,
    type: string,
    devType: string,
    major: number,
    minor: number,
    extra: JsonObject,
  ) =>
    v === "3.3"
      ? {
          DriverOptions: null,
          ...extra,
          ID: id,
          Type: type,
          DevType: devType,
          RefCount: 1,
          AttachCount: 1,
          Major: major,
          Minor: minor,
          ColdPlug: false,
        }
      : {
          ID: id,
          Type: type,
          RefCount: 1,
          AttachCount: 1,
          DevType: devType,
          Major: major,
          Minor: minor,
          ...(v === "1.11" ? {} : { ColdPlug: false }),
          DriverOptions: type === "block" ? { "block-driver": "virtio-blk" } : null,
          ...extra,
        };
  return [
    state(VFIO_ID, "vfio", "c", 241, 0, { VFIODevs: [vfioDev] }),
    state(BLOCK_ID, "block", "b", 8, 16, { BlockDrive: drive }),
    state(GENERIC_ID, "generic", "c", 10, 229, {}),
  ];
}

/** NetworkEndpoint {Type, Veth: {NetPair: NetworkInterfacePair}}, the tap pair of the tcfilter model. */
function vethEndpoint(addrs: Json): JsonObject {
  return {
    Type: "virtual",
    Veth: {
      NetPair: {
        ID: "3b9c6c8e-8a55-4b3f-9d2e-5a1c6f7e8d90",
        Name: "br0_kata",
        TAPIface: { Name: "tap0_kata", HardAddr: "0a:58:0a:58:00:05", Addrs: null },
        VirtIface: { Name: "eth0", HardAddr: "0a:58:0a:58:00:05", Addrs: addrs },
        NetInterworkingModel: 3,
      },
    },
  };
}

function network(v: Version): JsonObject {
  const endpoints = [vethEndpoint(null)];
  if (v === "2.4" || v === "3.3") return { NetworkID: NETNS, Endpoints: endpoints, NetworkCreated: true };
  if (v === "2.2") return { NetNsPath: NETNS, Endpoints: endpoints, NetmonPID: 0, NetNsCreated: true };
  return { NetNsPath: NETNS, NetmonPID: 0, NetNsCreated: true, Endpoints: endpoints };
}

function hypervisorState(v: Version): JsonObject {
  const common = {
    BlockIndexMap: { "0": {} },
    Type: "qemu",
    UUID: "9a746c47-1e81-42ee-9a42-f80a33309555",
    APISocket: "",
    Bridges: [{ DeviceAddr: { "1": `drive-${BLOCK_ID}` }, Type: "pci", ID: "pci-bridge-0", Addr: 2 }],
    HotpluggedVCPUs: [{ ID: "cpu-0" }, { ID: "cpu-1" }],
    HotpluggedMemory: 512,
  };
  if (v === "1.11" || v === "2.0")
    return {
      Pid: 20462,
      Type: "qemu",
      BlockIndexMap: { "0": {} },
      UUID: common.UUID,
      Bridges: common.Bridges,
      HotpluggedVCPUs: common.HotpluggedVCPUs,
      HotpluggedMemory: 512,
      VirtiofsdPid: 20455,
      HotplugVFIOOnRootBus: false,
      PCIeRootPort: 0,
      APISocket: "",
    };
  if (v === "2.2")
    return { ...common, VirtiofsdPid: 20455, Pid: 20462, PCIeRootPort: 0, HotplugVFIOOnRootBus: false };
  if (v === "2.4")
    return { ...common, VirtiofsDaemonPid: 20455, Pid: 20462, PCIeRootPort: 0, HotplugVFIOOnRootBus: false };
  return {
    ...common,
    VirtiofsDaemonPid: 20455,
    Pid: 20462,
    HotPlugVFIO: "root-port",
    ColdPlugVFIO: "no-port",
    PCIeRootPort: 0,
    PCIeSwitchPort: 0,
  };
}

function hypervisorConfig(v: Version): JsonObject {
  const vcpus: JsonObject = v === "3.3" ? { NumVCPUsF: 1.5 } : { NumVCPUs: 1 };
  return {
    ...vcpus,
    DefaultMaxVCPUs: 240,
    MemorySize: 2048,
    DefaultBridges: 1,
    Msize9p: 8192,
    MemSlots: 10,
    KernelPath: "/opt/kata/share/kata-containers/vmlinux.container",
    ImagePath: "/opt/kata/share/kata-containers/kata-containers.img",
    HypervisorPath: "/opt/kata/bin/qemu-system-x86_64",
    SharedFS: "virtio-fs",
    Debug: false,
  };
}

function sandboxConfig(v: Version): JsonObject {
  const containers = [containerConfig(v, SB, true), containerConfig(v, CID, false)];
  const base = {
    HypervisorType: "qemu",
    HypervisorConfig: hypervisorConfig(v),
    KataAgentConfig: { LongLiveConn: true },
    KataShimConfig: null,
    NetworkConfig: { NetNSPath: NETNS, NetNsCreated: true, DisableNewNetNs: false, InterworkingModel: 3 },
    ShmSize: 67108864,
    SharePidNs: false,
    Stateful: false,
    SystemdCgroup: false,
    SandboxCgroupOnly: true,
    DisableGuestSeccomp: true,
    Experimental: null,
    ContainerConfigs: containers,
    cgroups: null,
  };
  if (v === "1.11") {
    // 1.11.0 persist/api/config.go: AgentType, ProxyType/ProxyConfig and ShimType sit between
    // the hypervisor and the network config.
    const moved = [
      "HypervisorType",
      "HypervisorConfig",
      "KataAgentConfig",
      "KataShimConfig",
      "NetworkConfig",
    ];
    const rest = Object.fromEntries(Object.entries(base).filter(([k]) => !moved.includes(k)));
    return {
      HypervisorType: base.HypervisorType,
      HypervisorConfig: base.HypervisorConfig,
      AgentType: "kata",
      KataAgentConfig: { LongLiveConn: true, UseVSock: false },
      ProxyType: "kataProxy",
      ProxyConfig: { Path: "/usr/libexec/kata-containers/kata-proxy", Debug: false },
      ShimType: "kataShim",
      KataShimConfig: { Path: "/usr/libexec/kata-containers/kata-shim", Debug: false },
      NetworkConfig: base.NetworkConfig,
      ...rest,
    };
  }
  if (v === "2.0") return { ...base, ShimType: "kataShim" };
  return base;
}

/** SandboxState in the key order of each release. */
function sandboxState(v: Version, state = "running"): JsonObject {
  const agent: JsonObject =
    v === "1.11"
      ? { ProxyPid: 20488, URL: `unix:///run/vc/sbs/${SB}/proxy.sock` }
      : { URL: "vsock://2146468012:1024" };
  if (v === "2.4" || v === "3.3")
    return {
      CgroupPaths: null,
      Devices: devices(v),
      State: state,
      SandboxContainer: SB,
      SandboxCgroupPath: "/kubepods/besteffort/pod1/kata_" + SB,
      OverheadCgroupPath: "",
      HypervisorState: hypervisorState(v),
      AgentState: agent,
      Network: network(v),
      Config: sandboxConfig(v),
      PersistVersion: 2,
      GuestMemoryBlockSizeMB: 128,
      GuestMemoryHotplugProbe: false,
    };
  return {
    PersistVersion: 2,
    State: state,
    GuestMemoryBlockSizeMB: 128,
    GuestMemoryHotplugProbe: false,
    SandboxContainer: SB,
    CgroupPath: "/kata_" + SB,
    CgroupPaths: null,
    Devices: devices(v),
    HypervisorState: hypervisorState(v),
    AgentState: agent,
    Network: network(v),
    Config: sandboxConfig(v),
  };
}

/**
 * `json.NewEncoder(f).Encode`: compact with a trailing newline (persist/fs/fs.go). The
 * truncation checks cut the text without it (the prefix that drops only the newline is whole).
 */
const encode = (v: Json): string => `${JSON.stringify(v)}\n`;

const VERSIONS: readonly Version[] = ["1.11", "2.0", "2.2", "2.4", "3.3"];

const dev = (over: Partial<DeviceInfo>): DeviceInfo => ({
  type: "generic",
  hostPath: "",
  containerPath: "",
  devType: "c",
  major: 0,
  minor: 0,
  hotplugged: true,
  id: "",
  bdf: "",
  scsiAddr: "",
  virtPath: "",
  ...over,
});

describe("parsePersistSandbox per release", () => {
  it.each(VERSIONS)("Kata %s", (v) => {
    const s = okValue(parsePersistSandbox(encode(sandboxState(v))));
    const v1 = v === "1.11";
    expect(s.state).toEqual({
      state: "running",
      rawState: "running",
      blockIndex: 0,
      fstype: "",
      hotpluggedDrive: false,
      legacyProxyPid: null,
      legacyUrl: null,
    });
    expect(s.sandboxContainer).toBe(SB);
    expect(s.hypervisor).toEqual({
      type: "qemu",
      uuid: "9a746c47-1e81-42ee-9a42-f80a33309555",
      pid: 20462,
      virtiofsdPid: 20455,
      hotpluggedVCPUs: 2,
      hotpluggedMemoryMiB: 512,
    });
    expect(s.agentUrl).toBe(v1 ? `unix:///run/vc/sbs/${SB}/proxy.sock` : "vsock://2146468012:1024");
    expect(s.proxyPid).toBe(v1 ? 20488 : null);
    expect(s.network).toEqual({
      netNsPath: NETNS,
      netNsCreated: true,
      endpoints: [{ type: "virtual", ifaceName: "eth0", ipv4: [] }],
    });
    expect(s.config).toMatchObject({
      hypervisorType: "qemu",
      vcpus: v === "3.3" ? 2 : 1,
      memoryMiB: 2048,
      defaultMaxVCPUs: 240,
      agentType: v1 ? "kata" : "",
      proxyType: v1 ? "kataProxy" : "",
      shimType: v1 || v === "2.0" ? "kataShim" : "",
    });
    expect(s.config.containers.map((c) => [c.id, c.vcType, c.bundlePath])).toEqual([
      [SB, "pod_sandbox", `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${SB}`],
      [CID, "pod_container", BUNDLE],
    ]);
    expect(s.entryErrors).toEqual([]);
    expect(s.devices).toEqual([
      {
        id: VFIO_ID,
        info: dev({
          type: "vfio",
          major: 241,
          id: VFIO_ID,
          bdf: v === "3.3" ? "0000:04:00.0" : "04:00.0",
          hostPath: v === "3.3" ? "/dev/vfio/42" : "",
        }),
      },
      {
        id: BLOCK_ID,
        info: dev({
          type: "block",
          hostPath: "/dev/sdb",
          devType: "b",
          major: 8,
          minor: 16,
          id: BLOCK_ID,
          virtPath: "/dev/vdb",
        }),
      },
      // AttachCount 1, but a generic device never reaches the VM.
      { id: GENERIC_ID, info: dev({ major: 10, minor: 229, id: GENERIC_ID, hotplugged: false }) },
    ]);
    expect(persistVCPUs(s)).toBe((v === "3.3" ? 2 : 1) + 2);
    expect(persistMemoryBytes(s)).toBe((2048 + 512) * 1024 * 1024);
  });

  it.each(["1.11", "2.0"] as const)(
    "Kata %s: identity unknown (no OCI annotations), read the bundle",
    (v) => {
      const s = okValue(parsePersistSandbox(encode(sandboxState(v))));
      for (const c of s.config.containers)
        expect(c.identity).toMatchObject({ status: "unknown", problem: NO_OCI_ANNOTATIONS });
    },
  );

  it.each(["2.2", "2.4", "3.3"] as const)("Kata %s: identity from the stored OCI annotations", (v) => {
    const [sandbox, container] = okValue(parsePersistSandbox(encode(sandboxState(v)))).config.containers;
    expect(sandbox?.identity).toMatchObject({
      status: "known",
      flavor: "containerd",
      kind: "sandbox",
      podUid: POD_UID,
      problem: null,
    });
    expect(container?.identity).toMatchObject({
      status: "known",
      kind: "container",
      sandboxId: SB,
      namespace: "ml-serving",
      podName: POD_NAME,
      containerName: "infer",
      image: "docker.io/tensorflow/serving:2.11.0",
    });
  });

  it("2.2+ annotations without any Kubernetes key (e.g. nerdctl run): none", () => {
    const doc = sandboxState("2.4");
    const cfg = doc.Config as JsonObject;
    cfg.ContainerConfigs = [
      {
        ID: CID,
        Annotations: {
          "io.katacontainers.pkg.oci.bundle_path": BUNDLE,
          "org.opencontainers.image.title": "x",
        },
      },
    ];
    expect(okValue(parsePersistSandbox(encode(doc))).config.containers[0]?.identity).toMatchObject({
      status: "none",
    });
  });

  it.each([
    ["creating (2.x)", "creating", "unknown"],
    ["ready", "ready", "ready"],
    ["paused", "paused", "paused"],
    ["stopped", "stopped", "stopped"],
    ["empty", "", "unknown"],
  ])("State %s", (_label, raw, state) => {
    const s = okValue(parsePersistSandbox(encode(sandboxState("2.4", raw)))).state;
    expect([s.state, s.rawState]).toEqual([state, raw]);
  });

  it.each([
    [0.5, 1],
    [1, 1],
    [1.25, 2],
    [2.75, 3],
    [0, 0],
  ])("NumVCPUsF %d boots ceil = %d vCPUs", (f, n) => {
    const doc = sandboxState("3.3");
    const hv = (doc.Config as JsonObject).HypervisorConfig as JsonObject;
    hv.NumVCPUsF = f;
    expect(okValue(parsePersistSandbox(JSON.stringify(doc))).config.vcpus).toBe(n);
  });

  it("vhost-user devices are entry errors; the other devices are kept", () => {
    const doc = sandboxState("2.4");
    doc.Devices = [
      {
        ID: "vu0",
        Type: "vhost-user-blk-pci",
        DevType: "b",
        VhostUserDev: { DevID: "vu0", SocketPath: "/var/run/vhost/blk0", Type: "vhost-user-blk-pci" },
      },
      ...devices("2.4"),
      { ID: 5, Type: "block" },
    ];
    const s = okValue(parsePersistSandbox(encode(doc)));
    expect(s.devices.map((d) => d.id)).toEqual([VFIO_ID, BLOCK_ID, GENERIC_ID]);
    expect(s.entryErrors).toEqual([
      {
        index: 0,
        reason: "unknown_device_type",
        type: "vhost-user-blk-pci",
        message: "$.Devices[0].Type: expected vfio, block or generic",
      },
      { index: 4, reason: "schema", type: "block", message: "$.Devices[4].ID: expected a string" },
    ]);
  });

  it("a cold-plugged or detached device is not hot-plugged", () => {
    const doc = sandboxState("3.3");
    doc.Devices = [
      { ID: "a", Type: "vfio", ColdPlug: true, AttachCount: 1 },
      { ID: "b", Type: "generic", AttachCount: 0 },
    ];
    expect(okValue(parsePersistSandbox(encode(doc))).devices.map((d) => d.info.hotplugged)).toEqual([
      false,
      false,
    ]);
  });

  it("endpoints of every kind: interface names and IPv4 addresses when stored", () => {
    const doc = sandboxState("2.4");
    (doc.Network as JsonObject).Endpoints = [
      vethEndpoint([
        {
          IP: "10.88.0.5",
          Mask: "//8AAA==",
          Label: "eth0",
          Flags: 128,
          Scope: 0,
          Peer: null,
          Broadcast: "10.88.255.255",
          PreferedLft: 4294967295,
          ValidLft: 4294967295,
        },
        { IP: "fe80::858:aff:fe58:5", Mask: "//////////8AAAAAAAAAAA==", Label: "", Flags: 128, Scope: 253 },
      ]),
      { Type: "ipvlan", IPVlan: { NetPair: { VirtIface: { Name: "eth1", Addrs: null } } } },
      { Type: "macvlan", Macvlan: { NetPair: { VirtIface: { Name: "eth2" } } } },
      { Type: "vhost-user", VhostUser: { IfaceName: "eth3", PCIPath: "01/02" } },
      { Type: "vfio", Vfio: { IfaceName: "eth4" } },
      { Type: "tap", Tap: { TapInterface: { ID: "", Name: "tap5", TAPIface: { Name: "tap5" } } } },
      { Type: "tuntap", Tuntap: { TuntapInterface: { Name: "tun6", TAPIface: { Name: "tun6" } } } },
      { Type: "physical", Physical: { BDF: "0000:05:00.0", Driver: "ixgbe", VendorDeviceID: "8086 10fb" } },
      { Type: "macvtap", Macvtap: { PCIPath: "02/03" } },
    ];
    expect(okValue(parsePersistSandbox(encode(doc))).network?.endpoints).toEqual([
      { type: "virtual", ifaceName: "eth0", ipv4: ["10.88.0.5"] },
      { type: "ipvlan", ifaceName: "eth1", ipv4: [] },
      { type: "macvlan", ifaceName: "eth2", ipv4: [] },
      { type: "vhost-user", ifaceName: "eth3", ipv4: [] },
      { type: "vfio", ifaceName: "eth4", ipv4: [] },
      { type: "tap", ifaceName: "tap5", ipv4: [] },
      { type: "tuntap", ifaceName: "tun6", ipv4: [] },
      { type: "physical", ifaceName: "", ipv4: [] },
      { type: "macvtap", ifaceName: "", ipv4: [] },
    ]);
  });

  it("missing keys default; null sections are null", () => {
    const s = okValue(parsePersistSandbox("{}"));
    expect(s).toMatchObject({
      sandboxContainer: "",
      agentUrl: null,
      proxyPid: null,
      network: null,
      devices: [],
      entryErrors: [],
    });
    expect(s.config).toEqual({
      hypervisorType: "",
      vcpus: null,
      memoryMiB: null,
      defaultMaxVCPUs: null,
      agentType: "",
      proxyType: "",
      shimType: "",
      containers: [],
    });
    expect(s.hypervisor).toEqual({
      type: "",
      uuid: "",
      pid: null,
      virtiofsdPid: null,
      hotpluggedVCPUs: 0,
      hotpluggedMemoryMiB: 0,
    });
    expect(persistVCPUs(s)).toBeNull();
    expect(persistMemoryBytes(s)).toBeNull();
  });

  it.each([
    [["State"], 1, "$.State: expected a string"],
    [["HypervisorState", "Pid"], "1", "$.HypervisorState.Pid: expected an integer"],
    [["HypervisorState", "HotpluggedVCPUs"], {}, "$.HypervisorState.HotpluggedVCPUs: expected an array"],
    [
      ["Config", "HypervisorConfig", "NumVCPUs"],
      -1,
      "$.Config.HypervisorConfig.NumVCPUs: expected a non-negative integer",
    ],
    [
      ["Config", "HypervisorConfig", "NumVCPUsF"],
      "1.5",
      "$.Config.HypervisorConfig.NumVCPUsF: expected a non-negative number",
    ],
    [["Config", "ContainerConfigs"], { a: 1 }, "$.Config.ContainerConfigs: expected an array"],
    [["Network"], [], "$.Network: expected an object"],
    [["AgentState", "URL"], 5, "$.AgentState.URL: expected a string"],
    [["Devices"], {}, "$.Devices: expected an array or null"],
  ] as const)("wrong type at %j is a schema error", (path, value, message) => {
    const doc = sandboxState("2.4");
    let parent: JsonObject = doc;
    for (const k of path.slice(0, -1)) parent = parent[k] as JsonObject;
    parent[path[path.length - 1] ?? ""] = value as Json;
    expect(errorOf(parsePersistSandbox(encode(doc)))).toEqual({ reason: "schema", message });
  });

  it("a deeply nested unknown value is ignored", () => {
    expect(outcome(parsePersistSandbox(`{"CgroupPaths":${DEEP_ARRAY},"State":"ready"}`))).toBe("ok");
  });

  it.each(VERSIONS)(
    "every byte-prefix of a Kata %s sandbox persist.json is empty/truncated",
    (v) => {
      expect(truncationFailures(parsePersistSandbox, Buffer.from(JSON.stringify(sandboxState(v))))).toEqual(
        [],
      );
    },
    60_000,
  );

  it.each(VERSIONS)("Kata %s: key order and unknown keys do not matter", (v) => {
    roundTrip(parsePersistSandbox, sandboxState(v));
  });
});

describeRobustness("parsePersistSandbox", parsePersistSandbox, {
  top: "object",
  realFiles: [],
  knownKeys: [
    "State",
    "SandboxContainer",
    "HypervisorState",
    "AgentState",
    "Network",
    "Config",
    "Devices",
    "Type",
    "UUID",
    "Pid",
    "VirtiofsdPid",
    "VirtiofsDaemonPid",
    "HotpluggedVCPUs",
    "HotpluggedMemory",
    "URL",
    "ProxyPid",
    "NetworkID",
    "NetNsPath",
    "NetworkCreated",
    "NetNsCreated",
    "Endpoints",
    "Veth",
    "NetPair",
    "VirtIface",
    "Name",
    "Addrs",
    "IP",
    "HypervisorType",
    "HypervisorConfig",
    "NumVCPUs",
    "NumVCPUsF",
    "MemorySize",
    "DefaultMaxVCPUs",
    "ContainerConfigs",
    "Annotations",
    "ID",
    "DevType",
    "Major",
    "Minor",
    "AttachCount",
    "ColdPlug",
    "BlockDrive",
    "VFIODevs",
    "BDF",
    "File",
  ],
});

// ---------------------------------------------------------------------------------------------
// Container persist.json

/** ContainerState: 1.11–2.x order, and the HEAD order (State, CgroupPath, BundlePath, Rootfs, Process, ...). */
function containerState(v: Version, pid: number): JsonObject {
  const process =
    v === "3.3"
      ? { StartTime: "2023-11-02T10:15:04.219406717Z", Token: CID, Pid: pid }
      : { Token: CID, Pid: pid, StartTime: "2023-11-02T10:15:04.219406717Z" };
  const deviceMaps = [
    {
      ID: VFIO_ID,
      ContainerPath: "/dev/vfio/42",
      FileMode: 8576,
      UID: 0,
      GID: 0,
      ...(v === "3.3" ? { Shared: false } : {}),
    },
    { ID: BLOCK_ID, ContainerPath: "/dev/block-data", FileMode: 25008, UID: 0, GID: 6 },
  ];
  const mounts = [
    {
      Source: "proc",
      Destination: "/proc",
      Type: "proc",
      Options: ["nosuid", "noexec", "nodev"],
      HostPath: "",
      ReadOnly: false,
      BlockDeviceID: "",
    },
    {
      Source: "/var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/models",
      Destination: "/models",
      Type: "bind",
      Options: ["rbind", "rprivate", "rw"],
      HostPath: `/run/kata-containers/shared/sandboxes/${SB}/shared/${CID}-916fda219e142877-models`,
      ReadOnly: false,
      BlockDeviceID: "",
    },
  ];
  if (v === "3.3")
    return {
      State: "running",
      CgroupPath: `/kubepods/pod1/${CID}`,
      BundlePath: BUNDLE,
      Rootfs: { BlockDeviceID: "", FsType: "" },
      Process: process,
      DeviceMaps: deviceMaps,
      Mounts: mounts,
    };
  return {
    State: "running",
    Rootfs: { BlockDeviceID: "", FsType: "" },
    CgroupPath: `/kubepods/pod1/${CID}`,
    DeviceMaps: deviceMaps,
    Mounts: mounts,
    Process: process,
    BundlePath: BUNDLE,
  };
}

describe("parsePersistContainer", () => {
  it.each([
    ["1.11 (kata-shim PID)", "1.11", 20811],
    ["2.0 (shim v2: Pid -1)", "2.0", -1],
    ["2.4", "2.4", -1],
    ["3.3+ (HEAD key order)", "3.3", -1],
  ] as const)("Kata %s", (_label, v, pid) => {
    expect(parsePersistContainer(encode(containerState(v, pid)))).toEqual({
      ok: true,
      value: {
        state: {
          state: "running",
          rawState: "running",
          blockIndex: 0,
          fstype: "",
          hotpluggedDrive: false,
          legacyProxyPid: null,
          legacyUrl: null,
        },
        bundlePath: BUNDLE,
        process: {
          pid,
          startTime: "2023-11-02T10:15:04.219406717Z",
          startTimeSeconds: Date.parse("2023-11-02T10:15:04Z") / 1000 + 0.219406717,
        },
        deviceMaps: [
          { id: VFIO_ID, containerPath: "/dev/vfio/42" },
          { id: BLOCK_ID, containerPath: "/dev/block-data" },
        ],
        mounts: [
          { destination: "/proc", type: "proc", hostPath: "" },
          {
            destination: "/models",
            type: "bind",
            hostPath: `/run/kata-containers/shared/sandboxes/${SB}/shared/${CID}-916fda219e142877-models`,
          },
        ],
      },
    });
  });

  it("a block-device rootfs, a zero process, no bundle, creating", () => {
    const doc = containerState("2.4", 0);
    doc.State = "creating";
    doc.Rootfs = { BlockDeviceID: "drive-1", FsType: "ext4" };
    doc.BundlePath = "";
    doc.Process = { Token: "", Pid: 0, StartTime: "0001-01-01T00:00:00Z" };
    doc.DeviceMaps = null;
    doc.Mounts = null;
    const c = okValue(parsePersistContainer(encode(doc)));
    expect(c).toMatchObject({
      bundlePath: null,
      deviceMaps: [],
      mounts: [],
      process: { pid: 0, startTimeSeconds: null },
    });
    expect([c.state.state, c.state.rawState, c.state.fstype]).toEqual(["unknown", "creating", "ext4"]);
  });

  it("missing keys: no process, no bundle", () => {
    expect(okValue(parsePersistContainer("{}"))).toMatchObject({
      process: null,
      bundlePath: null,
      deviceMaps: [],
      mounts: [],
    });
  });

  it("the device maps join the sandbox's devices", () => {
    const s = okValue(parsePersistSandbox(encode(sandboxState("2.4"))));
    const c = okValue(parsePersistContainer(encode(containerState("2.4", -1))));
    const r = resolveDeviceRefs(c.deviceMaps, s.devices);
    expect(r.missing).toEqual([]);
    expect(r.devices.map((d) => [d.type, d.hostPath, d.containerPath, d.bdf])).toEqual([
      ["vfio", "", "/dev/vfio/42", "04:00.0"],
      ["block", "/dev/sdb", "/dev/block-data", ""],
    ]);
  });

  it.each([
    ["State", 1, "$.State: expected a string"],
    ["Process", "x", "$.Process: expected an object"],
    ["DeviceMaps", {}, "$.DeviceMaps: expected an array or null"],
    ["Mounts", [1], "$.Mounts[0]: expected an object"],
    ["BundlePath", false, "$.BundlePath: expected a string"],
  ] as const)("wrong type of %s", (key, value, message) => {
    const doc = containerState("3.3", -1);
    doc[key] = value as Json;
    expect(errorOf(parsePersistContainer(encode(doc)))).toEqual({ reason: "schema", message });
  });

  it("a fractional Pid is a schema error", () => {
    const doc = containerState("3.3", -1);
    doc.Process = { Pid: 1.5 };
    expect(errorOf(parsePersistContainer(encode(doc)))).toEqual({
      reason: "schema",
      message: "$.Process.Pid: expected an integer",
    });
  });

  it.each(["1.11", "3.3"] as const)(
    "every byte-prefix of a Kata %s container persist.json is empty/truncated",
    (v) => {
      expect(
        truncationFailures(parsePersistContainer, Buffer.from(JSON.stringify(containerState(v, -1)))),
      ).toEqual([]);
    },
  );

  it.each(["1.11", "3.3"] as const)("Kata %s: key order and unknown keys do not matter", (v) => {
    roundTrip(parsePersistContainer, containerState(v, -1));
  });
});

describeRobustness("parsePersistContainer", parsePersistContainer, {
  top: "object",
  realFiles: [],
  knownKeys: [
    "State",
    "BundlePath",
    "Rootfs",
    "FsType",
    "Process",
    "Pid",
    "StartTime",
    "DeviceMaps",
    "ID",
    "ContainerPath",
    "Mounts",
    "Destination",
    "Type",
    "HostPath",
  ],
});

describe("derived helpers", () => {
  const base = okValue(parsePersistSandbox(encode(sandboxState("2.4"))));
  const withCfg = (
    over: Partial<PersistSandboxInfo["config"]>,
    hv: Partial<PersistSandboxInfo["hypervisor"]> = {},
  ): PersistSandboxInfo => ({
    ...base,
    config: { ...base.config, ...over },
    hypervisor: { ...base.hypervisor, ...hv },
  });

  it("vCPUs: boot + hot-plugged; null without a boot count", () => {
    expect(persistVCPUs(withCfg({ vcpus: 4 }, { hotpluggedVCPUs: 0 }))).toBe(4);
    expect(persistVCPUs(withCfg({ vcpus: null }))).toBeNull();
  });

  it("memory: MiB to bytes; 0 or unknown is null", () => {
    expect(persistMemoryBytes(withCfg({ memoryMiB: 256 }, { hotpluggedMemoryMiB: 0 }))).toBe(
      256 * 1024 * 1024,
    );
    expect(persistMemoryBytes(withCfg({ memoryMiB: 0 }, { hotpluggedMemoryMiB: 0 }))).toBeNull();
    expect(persistMemoryBytes(withCfg({ memoryMiB: null }))).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Local helpers

/** A plain JSON value as a Doc; maps of strings (annotations) take no unknown keys. */
function toDoc(v: Json): Doc {
  if (Array.isArray(v)) return darr(v.map(toDoc));
  if (typeof v === "object" && v !== null) {
    const isMap = Object.keys(v).some((k) => k.includes("."));
    return dobj(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toDoc(x)])), isMap ? "none" : "any");
  }
  return v;
}

/** The document parses to the same value with shuffled keys and unknown keys at every level. */
function roundTrip(parse: (text: string) => { ok: boolean }, doc: JsonObject): void {
  const d = toDoc(doc);
  const plain = parse(render(d));
  expect(plain.ok).toBe(true);
  fc.assert(
    fc.property(
      fc.integer(),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 4 }),
      (seed, values) => {
        const noise = {
          random: seededRandom(seed),
          keys: ["Extra", "zz", "NUMANode", "Shared2"],
          values: values as Json[],
        };
        expect(parse(render(d, noise))).toEqual(plain);
      },
    ),
    { numRuns: 60 },
  );
}
