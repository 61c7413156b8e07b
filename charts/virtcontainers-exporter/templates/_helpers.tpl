{{/*
The chart name, or nameOverride.
*/}}
{{- define "virtcontainers-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: fullnameOverride, else the release name when it
already contains the chart name, else "<release>-<chart name>". Truncated to 63 characters
(DNS label limit).
*/}}
{{- define "virtcontainers-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "virtcontainers-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the exporter's pods (DaemonSet selector, Service selector). A DaemonSet's
selector cannot change after creation, so nothing version-dependent goes in here.
*/}}
{{- define "virtcontainers-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "virtcontainers-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: exporter
{{- end }}

{{/*
Standard labels of every resource.
*/}}
{{- define "virtcontainers-exporter.labels" -}}
helm.sh/chart: {{ include "virtcontainers-exporter.chart" . }}
{{ include "virtcontainers-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "virtcontainers-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "virtcontainers-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The exporter image: [registry/]repository, then @digest when a digest is set, else :tag (the
tag defaulting to the chart's appVersion).
*/}}
{{- define "virtcontainers-exporter.image" -}}
{{- $repo := .Values.image.repository }}
{{- with .Values.image.registry }}{{ $repo = printf "%s/%s" . $repo }}{{ end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
The namespace of every namespaced object: namespace.name, else the release namespace.
*/}}
{{- define "virtcontainers-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespace.name }}
{{- end }}

{{/*
--gc-process-checks: with GC on always "required" (the pod then runs with hostPID: the GC deletes
only on evidence that no process uses a pod, and the exporter refuses "off" with --gc on); "auto"
in the other modes (no hostPID, so dry-run records the rule as not checked).
*/}}
{{- define "virtcontainers-exporter.gcProcessChecks" -}}
{{- ternary "required" "auto" (eq .Values.gc.mode "on") }}
{{- end }}

{{/*
"true" when the pod runs in the host's PID namespace: GC on (process checks are required then),
or process metrics enabled.
*/}}
{{- define "virtcontainers-exporter.hostPID" -}}
{{- or (eq .Values.gc.mode "on") .Values.processMetrics.enabled | toString }}
{{- end }}

{{/*
The capabilities added after dropping ALL, one per line of a YAML list (docs/configuration.md "Security"):
DAC_READ_SEARCH always (read and search the runtime's directories whatever their mode: before
2018-02-28 the runtime made pod directories with mode 0000); DAC_OVERRIDE only with GC on
(remove entries inside such directories, which the owner has no write bit on).
*/}}
{{- define "virtcontainers-exporter.capabilities" -}}
{{- $caps := list "DAC_READ_SEARCH" }}
{{- if eq .Values.gc.mode "on" }}
{{- $caps = prepend $caps "DAC_OVERRIDE" }}
{{- end }}
{{- toYaml $caps }}
{{- end }}

{{/*
The host trees the chart mounts, as a JSON list of {name, path} in mount order: the two of
trees.virtcontainers, then the two of trees.kata. Their mountPath is /host<path>.
*/}}
{{- define "virtcontainers-exporter.trees" -}}
{{- $trees := list }}
{{- if .Values.trees.virtcontainers }}
{{- $trees = append $trees (dict "name" "run-virtcontainers" "path" "/run/virtcontainers") }}
{{- $trees = append $trees (dict "name" "var-lib-virtcontainers" "path" "/var/lib/virtcontainers") }}
{{- end }}
{{- if .Values.trees.kata }}
{{- $trees = append $trees (dict "name" "run-vc" "path" "/run/vc") }}
{{- $trees = append $trees (dict "name" "var-lib-vc" "path" "/var/lib/vc") }}
{{- end }}
{{- toJson $trees }}
{{- end }}

{{/*
--layouts from the trees: trees.virtcontainers holds the virtcontainers layout, trees.kata the
kata1 and persist layouts (docs/layouts.md).
*/}}
{{- define "virtcontainers-exporter.layouts" -}}
{{- $layouts := list }}
{{- if .Values.trees.virtcontainers }}
{{- $layouts = append $layouts "virtcontainers" }}
{{- end }}
{{- if .Values.trees.kata }}
{{- $layouts = concat $layouts (list "kata1" "persist") }}
{{- end }}
{{- join "," $layouts }}
{{- end }}

{{/*
Checks of value combinations that the schema cannot express; fails the render with a clear
message.
*/}}
{{- define "virtcontainers-exporter.validate" -}}
{{- if not (or .Values.trees.virtcontainers .Values.trees.kata) }}
{{- fail "trees.virtcontainers and trees.kata are both false: the exporter would mount no state tree and read nothing. Set trees.virtcontainers=true for Clear Containers 3.x, virtcontainers and Kata 0.0.1 (/run/virtcontainers, /var/lib/virtcontainers), trees.kata=true for Kata Containers 0.2 to 3.x (/run/vc, /var/lib/vc), or both" }}
{{- end }}
{{- range .Values.trees.bundles }}
{{- $bundle := . }}
{{- if or (eq $bundle "/var/run") (hasPrefix "/var/run/" $bundle) }}
{{- fail (printf "trees.bundles: %q is under /var/run: list it as %q. /var/run is a link to /run on the node, and the exporter reads bundle paths under /var/run in /run unless /var/run is mounted" $bundle (printf "/run%s" (trimPrefix "/var/run" $bundle))) }}
{{- end }}
{{- range $tree, $value := dict "/run/virtcontainers" "virtcontainers" "/var/lib/virtcontainers" "virtcontainers" "/run/vc" "kata" "/var/lib/vc" "kata" }}
{{- if or (eq $bundle $tree) (hasPrefix (printf "%s/" $tree) $bundle) }}
{{- fail (printf "trees.bundles: %q is in the state tree %s (trees.%s), which is mounted read-write with gc.mode=on: list only the directories of OCI bundles" $bundle $tree $value) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (eq .Values.gc.mode "on") (not .Values.gc.processChecks) }}
{{- fail "gc.processChecks=false with gc.mode=on: the GC deletes a pod's state only on evidence that none of its processes is alive, which needs the host's PIDs (hostPID). Remove gc.processChecks=false, or use gc.mode=dry-run" }}
{{- end }}
{{- if and .Values.namespace.create (eq (include "virtcontainers-exporter.namespace" .) .Release.Namespace) }}
{{- fail (printf "namespace.create needs namespace.name set to a namespace other than the release namespace %q: Helm keeps the release record in the release namespace, which must exist before the install (e.g. --namespace kube-system --set namespace.create=true,namespace.name=virtcontainers-exporter)" .Release.Namespace) }}
{{- end }}
{{- end }}

{{/*
The runbook page that files/alerts.yaml links to (its runbook_url annotations are this plus
"#<alert>"); prometheusRule.runbookBaseUrl replaces it in the PrometheusRule.
*/}}
{{- define "virtcontainers-exporter.runbookPage" -}}
https://github.com/virtcontainers-exporter/virtcontainers-exporter/blob/main/docs/monitoring.md
{{- end }}

{{/*
The scrape settings shared by the ServiceMonitor's endpoint and the PodMonitor's
podMetricsEndpoint: interval, timeout, scheme, TLS, basic auth, honorLabels, the job and node
target labels, and the user's relabelings. Called with (dict "monitor" .Values.serviceMonitor
(or .Values.podMonitor) "job" <the job name>).
*/}}
{{- define "virtcontainers-exporter.scrapeEndpoint" -}}
{{- $m := .monitor -}}
{{- with $m.interval }}
interval: {{ . }}
{{- end }}
{{- with $m.scrapeTimeout }}
scrapeTimeout: {{ . }}
{{- end }}
{{- if ne $m.scheme "http" }}
scheme: {{ $m.scheme }}
{{- end }}
{{- with $m.tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $m.basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
# The exporter's namespace and pod labels name the pods it describes; they must win over
# the target labels of the same names (the exporter's own pod).
honorLabels: true
relabelings:
  {{- if not $m.jobLabel }}
  # The job name the alerts (files/alerts.yaml) and the dashboard select on (value `job`).
  - action: replace
    targetLabel: job
    replacement: {{ .job }}
  {{- end }}
  # The node the scraped exporter runs on: the dashboard's $node variable.
  - action: replace
    sourceLabels: [__meta_kubernetes_pod_node_name]
    targetLabel: node
  {{- with $m.relabelings }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $m.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A kubelet probe of the exporter's `path` (/healthz or /readyz, served without basic auth): plain
HTTP without web.existingSecret, else as web.probe says: an HTTPS or HTTP GET, or a TCP connect
when the web configuration requires client certificates (the kubelet presents none).
*/}}
{{- define "virtcontainers-exporter.probe" -}}
{{- $on := ne .web.existingSecret "" -}}
{{- if and $on (eq .web.probe "tcp") -}}
tcpSocket:
  port: metrics
{{- else -}}
httpGet:
  path: {{ .path }}
  port: metrics
  {{- if and $on (eq .web.probe "https") }}
  scheme: HTTPS
  {{- end }}
{{- end }}
{{- end }}

{{/*
The Prometheus job of the exporter's targets: the value `job`, else the full name.
*/}}
{{- define "virtcontainers-exporter.job" -}}
{{- default (include "virtcontainers-exporter.fullname" .) .Values.job }}
{{- end }}

{{/*
A file of charts/.../files with the selectors written for the default names ("virtcontainers-exporter"
as the job and as the DaemonSet) rewritten for this release: the job, and the DaemonSet's full
name and namespace. Called with (dict "root" $ "text" <file text> "quote" <"\"" or "\\\"">).
*/}}
{{- define "virtcontainers-exporter.selectors" -}}
{{- $r := .root -}}
{{- $q := .quote -}}
{{- $job := include "virtcontainers-exporter.job" $r -}}
{{- $ds := include "virtcontainers-exporter.fullname" $r -}}
{{- $ns := include "virtcontainers-exporter.namespace" $r -}}
{{- $t := .text -}}
{{- $t = replace (printf "job=%svirtcontainers-exporter%s" $q $q) (printf "job=%s%s%s" $q $job $q) $t -}}
{{- $t = replace (printf "daemonset=%svirtcontainers-exporter%s" $q $q) (printf "namespace=%s%s%s, daemonset=%s%s%s" $q $ns $q $q $ds $q) $t -}}
{{- $t = replace (printf "created_by_name=%svirtcontainers-exporter%s" $q $q) (printf "namespace=%s%s%s, created_by_name=%s%s%s" $q $ns $q $q $ds $q) $t -}}
{{- $t -}}
{{- end }}

{{/*
A Kubernetes memory quantity (resources.limits.memory: a string such as 512Mi, 0.5Gi, 1G, 1e9,
or a number of bytes) in bytes, as a float. Suffixes as Kubernetes reads them: binary Ki Mi Gi
Ti Pi Ei, decimal k M G T P E (and m, milli), or a decimal exponent e<n>/E<n>. Anything else
fails the render with the value and the accepted forms.
*/}}
{{- define "virtcontainers-exporter.quantityBytes" -}}
{{- $q := toString . | trim -}}
{{- if not (regexMatch `^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$` $q) -}}
{{- fail (printf "resources.limits.memory: %q is not a Kubernetes quantity: write a number of bytes with an optional suffix, such as 512Mi, 0.5Gi, 1G or 1e9 (binary Ki Mi Gi Ti Pi Ei; decimal k, lower case, and M G T P E)" $q) -}}
{{- end -}}
{{- $number := regexFind `^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)` $q -}}
{{- $suffix := trimPrefix $number $q -}}
{{- if or (eq $suffix "") (hasPrefix "e" $suffix) (hasPrefix "E" $suffix) -}}
{{- float64 $q -}}
{{- else -}}
{{- $factors := dict "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 "m" 0.001 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 "P" 1000000000000000.0 "E" 1000000000000000000.0 -}}
{{- mulf (float64 $number) (get $factors $suffix) -}}
{{- end -}}
{{- end }}

{{/*
The exporter's V8 old-generation cap in MiB (node --max-old-space-size), or "" for none:
heap.maxOldSpaceMiB when set, else heap.memoryLimitPercent of resources.limits.memory (rounded
down), else none (no memory limit: Node sizes its heap by itself). A limit too small to hold a
heap fails the render. docs/configuration.md "Memory" has the measurements behind the default.
*/}}
{{- define "virtcontainers-exporter.maxOldSpaceMiB" -}}
{{- $limit := dig "limits" "memory" "" (.Values.resources | default dict) -}}
{{- if .Values.heap.maxOldSpaceMiB -}}
{{- .Values.heap.maxOldSpaceMiB | int -}}
{{- else if ne (toString $limit) "" -}}
{{- $mib := divf (include "virtcontainers-exporter.quantityBytes" $limit | float64) 1048576.0 -}}
{{- $cap := divf (mulf $mib (float64 .Values.heap.memoryLimitPercent)) 100.0 | floor | int -}}
{{- if lt $cap 32 -}}
{{- fail (printf "resources.limits.memory %v leaves a V8 heap of %d MiB (heap.memoryLimitPercent=%v), below 32 MiB: the exporter needs about 70 MiB of memory at 110 pods (docs/configuration.md \"Memory\"). Raise the limit, or set heap.maxOldSpaceMiB" $limit $cap .Values.heap.memoryLimitPercent) -}}
{{- end -}}
{{- $cap -}}
{{- end -}}
{{- end }}

{{/*
"true" when extraEnv sets NODE_OPTIONS itself (the chart then leaves NODE_OPTIONS to it).
*/}}
{{- define "virtcontainers-exporter.userNodeOptions" -}}
{{- $found := false -}}
{{- range .Values.extraEnv -}}
{{- if eq (toString .name) "NODE_OPTIONS" -}}{{- $found = true -}}{{- end -}}
{{- end -}}
{{- $found | toString -}}
{{- end }}
