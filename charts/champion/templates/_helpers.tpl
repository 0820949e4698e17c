{{- define "champion.name" -}}champion{{- end }}
{{- /* The conventional full name: release `champion` gives `champion`, `prod` gives `prod-champion`. */ -}}
{{- define "champion.fullname" -}}
{{- if contains "champion" .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}{{ printf "%s-champion" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end }}
{{- end }}
{{- define "champion.labels" -}}
app.kubernetes.io/name: champion
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
{{- define "champion.selector" -}}
app.kubernetes.io/name: champion
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "champion.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end }}
