{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "todostack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release name + chart name, unless the release name already contains the chart name. */}}
{{- define "todostack.fullname" -}}
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

{{- define "todostack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "todostack.labels" -}}
helm.sh/chart: {{ include "todostack.chart" . }}
{{ include "todostack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todostack
{{- end }}

{{/* Labels that select the service's pods (never change them: selectors are immutable). */}}
{{- define "todostack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todostack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "todostack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "todostack.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: by digest when one is given (what was scanned and signed is what runs). */}}
{{- define "todostack.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "todostack.secretName" -}}
{{- default (include "todostack.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{- define "todostack.sqliteClaimName" -}}
{{- default (printf "%s-data" (include "todostack.fullname" .)) .Values.database.sqlite.persistence.existingClaim }}
{{- end }}

{{/*
Refusals of combinations the schema cannot express; rendered by every template that depends on them, so
`helm template`, `helm install` and `helm upgrade` all stop before anything reaches the cluster.
*/}}
{{- define "todostack.validate" -}}
{{- $sqlite := eq .Values.database.type "sqlite" }}
{{- if and $sqlite .Values.autoscaling.enabled }}
{{- fail "database.type=sqlite cannot autoscale: SQLite is one file on one volume, written by one pod. Use database.type=postgresql, or set autoscaling.enabled=false." }}
{{- end }}
{{- if and $sqlite (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "database.type=sqlite allows replicaCount 1, not %d: SQLite is one file on one volume, written by one pod. Use database.type=postgresql for more replicas." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq .Values.database.type "postgresql") (not .Values.secret.existingSecret) (not .Values.database.postgresql.url) }}
{{- fail "database.type=postgresql needs database.postgresql.url, or secret.existingSecret holding the URL under secret.databaseUrlKey." }}
{{- end }}
{{- if and .Values.secret.existingSecret .Values.database.postgresql.url }}
{{- fail "database.postgresql.url goes into the chart-made Secret: with secret.existingSecret, put the URL in that Secret instead." }}
{{- end }}
{{- if and .Values.secret.existingSecret .Values.secret.secretKey }}
{{- fail "secret.secretKey goes into the chart-made Secret: with secret.existingSecret, put the key in that Secret instead." }}
{{- end }}
{{- $needed := add .Values.app.shutdownDelaySeconds (max .Values.app.shutdownGraceSeconds .Values.app.headerReadTimeoutSeconds) }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed app.shutdownDelaySeconds + the longer of app.shutdownGraceSeconds and app.headerReadTimeoutSeconds (%d), or the kubelet kills requests the service would have finished." (int .Values.terminationGracePeriodSeconds) (int $needed)) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas." }}
{{- end }}
{{- end }}

{{/* The service's environment, shared by the Deployment and the migration Job. */}}
{{- define "todostack.env" -}}
- name: TODOSTACK_ENV
  value: production
- name: TODOSTACK_HOST
  value: "0.0.0.0"
- name: TODOSTACK_PORT
  value: {{ .Values.containerPort | quote }}
- name: TODOSTACK_LOG_LEVEL
  value: {{ .Values.app.logLevel | quote }}
- name: TODOSTACK_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "todostack.secretName" . }}
      key: {{ .Values.secret.secretKeyKey }}
{{- if eq .Values.database.type "postgresql" }}
- name: TODOSTACK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "todostack.secretName" . }}
      key: {{ .Values.secret.databaseUrlKey }}
- name: TODOSTACK_DB_POOL_SIZE
  value: {{ .Values.database.postgresql.poolSize | quote }}
- name: TODOSTACK_DB_CONNECTION_BUDGET
  value: {{ .Values.database.postgresql.connectionBudget | quote }}
- name: TODOSTACK_DB_PREPARED_STATEMENTS
  value: {{ ternary "on" "off" .Values.database.postgresql.preparedStatements | quote }}
{{- else }}
- name: TODOSTACK_DATABASE_URL
  value: sqlite:////data/todostack.db
{{- end }}
- name: TODOSTACK_AUTOPROF_DIR
  value: /data/profiles
{{- end }}
