{{/* Names, labels and shared pieces of the smartorch chart. */}}

{{- define "smartorch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name, at most 52 characters so that "-worker" and "-file-sd" fit in 63. */}}
{{- define "smartorch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "smartorch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "smartorch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smartorch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "smartorch.labels" -}}
helm.sh/chart: {{ include "smartorch.chart" . }}
{{ include "smartorch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: smartorch
{{- end -}}

{{- define "smartorch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "smartorch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, or repository:tag@digest. */}}
{{- define "smartorch.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: \"latest\" is not a version; pin an exact tag (and image.digest)" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret with the secret key and the admin password. */}}
{{- define "smartorch.authSecretName" -}}
{{- .Values.auth.existingSecret | default (include "smartorch.fullname" .) -}}
{{- end -}}

{{/* The Secret with the MongoDB URI. */}}
{{- define "smartorch.mongoSecretName" -}}
{{- .Values.mongodb.existingSecret | default (include "smartorch.fullname" .) -}}
{{- end -}}

{{/* Whether the chart makes a Secret of its own. */}}
{{- define "smartorch.ownSecret" -}}
{{- if or (not .Values.auth.existingSecret) (not .Values.mongodb.existingSecret) -}}true{{- end -}}
{{- end -}}

{{- define "smartorch.fileSDClaimName" -}}
{{- .Values.fileSD.persistence.existingClaim | default (printf "%s-file-sd" (include "smartorch.fullname" .)) -}}
{{- end -}}

{{/* Stops rendering with a message when a required value is missing. */}}
{{- define "smartorch.validate" -}}
{{- $_ := required "temporal.address is required: the Temporal frontend as host:port" .Values.temporal.address -}}
{{- if not .Values.auth.existingSecret -}}
{{- $_ := required "auth.secretKey is required (64 hex digits: openssl rand -hex 32), or name a Secret in auth.existingSecret" .Values.auth.secretKey -}}
{{- $_ := required "auth.adminPassword is required (at least 8 characters), or name a Secret in auth.existingSecret" .Values.auth.adminPassword -}}
{{- end -}}
{{- if not .Values.mongodb.existingSecret -}}
{{- $_ := required "mongodb.uri is required (mongodb://user:password@host:27017/db?authSource=db), or name a Secret in mongodb.existingSecret" .Values.mongodb.uri -}}
{{- end -}}
{{- end -}}

{{/* Environment both containers take from Secrets. */}}
{{- define "smartorch.secretEnv" -}}
- name: SMARTORCH_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "smartorch.authSecretName" . }}
      key: {{ .Values.auth.secretKeyKey }}
- name: SMARTORCH_MONGO_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "smartorch.mongoSecretName" . }}
      key: {{ .Values.mongodb.uriKey }}
{{- end -}}

{{/* Annotations that roll the pods when their configuration changes. */}}
{{- define "smartorch.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}
