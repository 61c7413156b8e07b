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
The exporter image: repository:tag, the tag defaulting to the chart's appVersion.
*/}}
{{- define "virtcontainers-exporter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
