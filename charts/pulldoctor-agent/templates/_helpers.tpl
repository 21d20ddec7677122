{{- define "pulldoctor.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pulldoctor.labels" -}}
app.kubernetes.io/name: pulldoctor-agent
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "pulldoctor.selector" -}}
app.kubernetes.io/name: pulldoctor-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pulldoctor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pulldoctor.name" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is needed when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
