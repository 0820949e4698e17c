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
{{- /*
The operator image. No public image exists, so the repository is required: a release that
renders `champion:0.1.0` would only fail later as ImagePullBackOff on every node.
*/ -}}
{{- define "champion.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- $how := printf "image.repository is not set, and no public Champion image exists: build the image from the Dockerfile at the repo root (docker build -t REGISTRY/champion:%s .), push it to your registry (docker push REGISTRY/champion:%s), then --set image.repository=REGISTRY/champion (docs/helm.md)" $tag $tag -}}
{{- required $how .Values.image.repository }}:{{ $tag }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}
{{- /* The operator's ServiceAccount: the chart's own (full name unless `name`), or an existing one. */ -}}
{{- define "champion.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}{{ .Values.serviceAccount.name | default (include "champion.fullname" .) }}
{{- else }}{{ required "serviceAccount.create is false: set serviceAccount.name to the existing ServiceAccount the operator runs as" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
