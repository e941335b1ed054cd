{{/*
Named templates. Those an application chart may call are marked PUBLIC; each takes the
schemagate chart's own context, which a parent chart reaches as `.Subcharts.schemagate`
(or `.Subcharts.<alias>`), so `.Values`, `.Chart` and `.Release` are this chart's even when
called from the parent:

  initContainers:
    {{- include "schemagate.initContainer" .Subcharts.schemagate | nindent 8 }}
  volumes:
    {{- include "schemagate.volumes" .Subcharts.schemagate | nindent 8 }}
*/}}

{{- define "schemagate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "schemagate.fullname" -}}
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

{{/* A name for an object of this release: fullname, cut to leave room for the suffix. */}}
{{- define "schemagate.objectName" -}}
{{- printf "%s-%s" (include "schemagate.fullname" .root | trunc 52 | trimSuffix "-") .suffix }}
{{- end }}

{{- define "schemagate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "schemagate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schemagate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The standard labels. Call with (dict "root" $ "component" "migration"). */}}
{{- define "schemagate.labels" -}}
helm.sh/chart: {{ include "schemagate.chart" .root }}
{{ include "schemagate.selectorLabels" .root }}
app.kubernetes.io/version: {{ include "schemagate.tag" .root | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: {{ include "schemagate.name" .root }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "schemagate.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{- define "schemagate.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "schemagate.tag" .) }}
{{- with .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref . }}
{{- end }}
{{- $ref }}
{{- end }}

{{/*
The exit codes a retry cannot help (SPEC §3; `schemagate version --exit-codes --format json`
lists them with retryable=false). The Job's podFailurePolicy fails at once on these; every
other failure is retried up to backoffLimit. tests/chart compares this list with the binary's.
*/}}
{{- define "schemagate.nonRetryableExitCodes" -}}
[1, 3, 64, 65, 70, 77, 78]
{{- end }}

{{/* A value as the string an environment variable holds; whole numbers stay whole. */}}
{{- define "schemagate.envString" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- int64 . | toString }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
A duration value in whole seconds: `30s`, `5m`, `1h30m` or a plain number of seconds. Call
with (dict "name" "job.deadline" "value" .Values.job.deadline "min" 1); `name` is for the
error message.
*/}}
{{- define "schemagate.seconds" -}}
{{- $s := include "schemagate.envString" .value | trim }}
{{- $seconds := 0 }}
{{- if regexMatch "^[0-9]+$" $s }}
{{- $seconds = int64 $s }}
{{- else if and (ne $s "") (regexMatch "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$" $s) }}
{{- $h := regexFind "[0-9]+h" $s | trimSuffix "h" | default "0" | int64 }}
{{- $m := regexFind "[0-9]+m" $s | trimSuffix "m" | default "0" | int64 }}
{{- $sec := regexFind "[0-9]+s" $s | trimSuffix "s" | default "0" | int64 }}
{{- $seconds = add (mul $h 3600) (mul $m 60) $sec }}
{{- else }}
{{- fail (printf "%s %q: use a duration such as 30s, 5m or 1h30m, or a number of seconds" .name $s) }}
{{- end }}
{{- if lt (int64 $seconds) (int64 (.min | default 0)) }}
{{- fail (printf "%s must be longer than 0s" .name) }}
{{- end }}
{{- $seconds }}
{{- end }}

{{/* job.deadline in seconds. */}}
{{- define "schemagate.deadlineSeconds" -}}
{{- include "schemagate.seconds" (dict "name" "job.deadline" "value" .Values.job.deadline "min" 1) }}
{{- end }}

{{/* contract.wait in seconds. */}}
{{- define "schemagate.contractWaitSeconds" -}}
{{- include "schemagate.seconds" (dict "name" "contract.wait" "value" .Values.contract.wait) }}
{{- end }}

{{/*
The release's version as its sessions name it: app.version, else the chart's appVersion.
*/}}
{{- define "schemagate.appVersion" -}}
{{- .Values.app.version | default .Chart.AppVersion | toString }}
{{- end }}

{{/*
PUBLIC. `<app>/<version>`: the application_name an application's containers give their
PostgreSQL sessions, so that the contract guard can tell the old release's pods from the new
one's. In the application's Deployment:

  env:
    - name: PGAPPNAME      # libpq; for JDBC append ?ApplicationName=... to the URL
      value: {{ include "schemagate.applicationName" .Subcharts.schemagate | quote }}

Needs app.name. A pod name may follow (`<app>/<version>/$(POD_NAME)`, with POD_NAME from the
downward API declared before it); schemagate reads only the part up to the second `/`.
*/}}
{{- define "schemagate.applicationName" -}}
{{- if not .Values.app.name }}
{{- fail "schemagate.applicationName needs app.name: the name the app's sessions carry as <app>/<version>" }}
{{- end }}
{{- printf "%s/%s" .Values.app.name (include "schemagate.appVersion" .) }}
{{- end }}

{{/* The Secret that holds the connection, or "" when none. */}}
{{- define "schemagate.secretName" -}}
{{- if .Values.database.createSecret.enabled }}
{{- include "schemagate.objectName" (dict "root" . "suffix" "db") }}
{{- else }}
{{- .Values.database.existingSecret }}
{{- end }}
{{- end }}

{{/*
Which key of the Secret feeds each field, as JSON (a template can only return a string).
A created Secret uses the standard names for the fields it holds.
*/}}
{{- define "schemagate.secretKeys" -}}
{{- $db := .Values.database }}
{{- if $db.createSecret.enabled }}
{{- $keys := dict "uri" "" }}
{{- range $field := list "host" "port" "dbname" "username" "password" }}
{{- $_ := set $keys $field (ternary $field "" (ne (include "schemagate.envString" (index $db.createSecret $field)) "")) }}
{{- end }}
{{- toJson $keys }}
{{- else if $db.existingSecret }}
{{- toJson $db.secretKeys }}
{{- else }}
{{- toJson (dict "uri" "" "host" "" "port" "" "dbname" "" "username" "" "password" "") }}
{{- end }}
{{- end }}

{{- define "schemagate.secretDir" -}}/var/run/secrets/schemagate/db{{- end }}
{{- define "schemagate.caDir" -}}/var/run/secrets/schemagate/ca{{- end }}
{{- define "schemagate.clientCertDir" -}}/var/run/secrets/schemagate/client{{- end }}
{{- define "schemagate.pushgatewayDir" -}}/var/run/secrets/schemagate/pushgateway{{- end }}

{{/* True when a ConfigMap is mounted over /migrations. */}}
{{- define "schemagate.migrationsConfigMap" -}}
{{- if .Values.migrations.configMap.existingName }}
{{- .Values.migrations.configMap.existingName }}
{{- else if .Values.migrations.configMap.create }}
{{- include "schemagate.objectName" (dict "root" . "suffix" "migrations") }}
{{- end }}
{{- end }}

{{/* Refuse values that would render a runner that cannot connect or would leak a secret. */}}
{{- define "schemagate.validate" -}}
{{- $db := .Values.database }}
{{- if and $db.existingSecret $db.createSecret.enabled }}
{{- fail "database.existingSecret and database.createSecret.enabled are mutually exclusive: use one Secret" }}
{{- end }}
{{- if $db.createSecret.enabled }}
{{- range $field := list "host" "username" "password" }}
{{- if not (index $db.createSecret $field) }}
{{- fail (printf "database.createSecret.%s is required when database.createSecret.enabled is true" $field) }}
{{- end }}
{{- end }}
{{- end }}
{{- if not (or $db.existingSecret $db.createSecret.enabled) }}
{{- $own := false }}
{{- range .Values.extraEnv }}
{{- if has (.name | trimSuffix "_FILE") (list "SCHEMAGATE_DATABASE_URL" "DATABASE_URL" "SCHEMAGATE_SECRET_DIR" "PGHOST" "PGPASSWORD") }}
{{- $own = true }}
{{- end }}
{{- end }}
{{- if not $own }}
{{- fail "no database connection: set database.existingSecret to a Secret with the credentials (CloudNativePG: <cluster>-app), or database.createSecret.enabled=true for development, or pass a connection through extraEnv" }}
{{- end }}
{{- end }}
{{- if and $db.mountSecret (not (or $db.existingSecret $db.createSecret.enabled)) }}
{{- fail "database.mountSecret needs database.existingSecret or database.createSecret.enabled" }}
{{- end }}
{{- if and .Values.migrations.configMap.create .Values.migrations.configMap.existingName }}
{{- fail "migrations.configMap.create and migrations.configMap.existingName are mutually exclusive" }}
{{- end }}
{{- $deadline := include "schemagate.deadlineSeconds" . | int64 }}
{{- if and .Values.job.enabled .Values.contract.enabled }}
{{- $settle := 10 }}
{{- with .Values.contract.settle }}
{{- $settle = include "schemagate.seconds" (dict "name" "contract.settle" "value" .) | int64 }}
{{- end }}
{{- $wait := include "schemagate.contractWaitSeconds" . | int64 }}
{{- if gt (add $wait $settle 30) $deadline }}
{{- fail (printf "contract.wait (%ds) plus contract.settle (%ds) must leave at least 30s of job.deadline (%ds) for the contract scripts themselves: shorten the wait or lengthen the deadline (and Helm's --timeout with it)" $wait $settle $deadline) }}
{{- end }}
{{- end }}
{{- $push := .Values.metrics.pushgateway }}
{{- if and $push.existingSecret (not $push.url) }}
{{- fail "metrics.pushgateway.existingSecret is set but metrics.pushgateway.url is not: set the gateway's URL, or leave both empty to push nothing" }}
{{- end }}
{{- if $push.existingSecret }}
{{- $k := $push.secretKeys }}
{{- if or (and $k.token (or $k.username $k.password)) (and (not $k.token) (ne (empty $k.username) (empty $k.password))) (not (or $k.token $k.username $k.password)) }}
{{- fail "metrics.pushgateway.secretKeys: give username and password (basic auth) or token (bearer), not both; set the others to \"\"" }}
{{- end }}
{{- end }}
{{- $otlp := .Values.metrics.otlp }}
{{- if and $otlp.headersSecret (not $otlp.endpoint) }}
{{- fail "metrics.otlp.headersSecret is set but metrics.otlp.endpoint is not: set the receiver's URL, or leave both empty to send nothing over OTLP" }}
{{- end }}
{{- if and .Values.app.version (not .Values.app.name) }}
{{- fail "app.version is set but app.name is not: set both (SCHEMAGATE_APP and SCHEMAGATE_APP_VERSION go together)" }}
{{- end }}
{{- end }}

{{/* The environment of every schemagate container: connection, settings, extras. */}}
{{- define "schemagate.env" -}}
{{- $db := .Values.database }}
{{- $secret := include "schemagate.secretName" . }}
{{- $keys := include "schemagate.secretKeys" . | fromJson }}
{{- $plain := dict "host" $db.host "port" $db.port "dbname" $db.dbname "username" $db.username }}
{{- $vars := dict "uri" "SCHEMAGATE_DATABASE_URL" "host" "PGHOST" "port" "PGPORT" "dbname" "PGDATABASE" "username" "PGUSER" "password" "PGPASSWORD" }}
{{- range $field := list "uri" "host" "port" "dbname" "username" "password" }}
{{- $key := index $keys $field | default "" }}
{{- if and $secret $key }}
{{- if not $db.mountSecret }}
- name: {{ index $vars $field }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key | quote }}
{{- end }}
{{- else if ne (include "schemagate.envString" (index $plain $field | default "")) "" }}
- name: {{ index $vars $field }}
  value: {{ include "schemagate.envString" (index $plain $field) | quote }}
{{- end }}
{{- end }}
{{- if and $secret $db.mountSecret }}
- name: SCHEMAGATE_SECRET_DIR
  value: {{ include "schemagate.secretDir" . | quote }}
{{- end }}
{{- with $db.sslmode }}
- name: PGSSLMODE
  value: {{ . | quote }}
{{- end }}
{{- with $db.sslnegotiation }}
- name: PGSSLNEGOTIATION
  value: {{ . | quote }}
{{- end }}
{{- if $db.caSecret.name }}
- name: PGSSLROOTCERT
  value: {{ printf "%s/ca.crt" (include "schemagate.caDir" .) | quote }}
{{- end }}
{{- if $db.clientCertSecret.name }}
- name: PGSSLCERT
  value: {{ printf "%s/tls.crt" (include "schemagate.clientCertDir" .) | quote }}
- name: PGSSLKEY
  value: {{ printf "%s/tls.key" (include "schemagate.clientCertDir" .) | quote }}
{{- end }}
- name: SCHEMAGATE_DEADLINE
  value: {{ printf "%ss" (include "schemagate.deadlineSeconds" .) | quote }}
{{- with .Values.app.name }}
- name: SCHEMAGATE_APP
  value: {{ . | quote }}
- name: SCHEMAGATE_APP_VERSION
  value: {{ include "schemagate.appVersion" $ | quote }}
{{- end }}
{{- with .Values.contract.settle }}
- name: SCHEMAGATE_CONTRACT_SETTLE
  value: {{ include "schemagate.envString" . | quote }}
{{- end }}
{{- $config := .Values.config }}
{{- if and (include "schemagate.migrationsConfigMap" .) (not $config.locations) }}
- name: SCHEMAGATE_LOCATIONS
  value: "/migrations"
{{- end }}
{{- range $name, $value := $config }}
{{- if and (not (kindIs "invalid" $value)) (ne (include "schemagate.envString" $value) "") }}
- name: {{ printf "SCHEMAGATE_%s" ($name | snakecase | upper) }}
  value: {{ include "schemagate.envString" $value | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.placeholders }}
- name: {{ printf "SCHEMAGATE_PLACEHOLDER_%s" ($name | upper) }}
  value: {{ include "schemagate.envString" $value | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The telemetry's settings (SCHEMAGATE_PUSHGATEWAY_*, OTEL_*), for the containers that run
`migrate` or `undo` only: no other command sends, and the credentials go nowhere they are
not used.
*/}}
{{- define "schemagate.metricsEnv" -}}
{{- $o := .Values.metrics.otlp }}
{{- if $o.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $o.endpoint | quote }}
{{- if not $o.traces }}
- name: OTEL_TRACES_EXPORTER
  value: "none"
{{- end }}
{{- with $o.serviceName }}
- name: OTEL_SERVICE_NAME
  value: {{ . | quote }}
{{- end }}
{{- $attrs := list (printf "k8s.namespace.name=%s" .Release.Namespace) }}
{{- range $k, $v := $o.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $k (toString $v)) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- with $o.headersSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $o.headersKey }}
{{- end }}
{{- end }}
{{- $p := .Values.metrics.pushgateway }}
{{- if $p.url }}
- name: SCHEMAGATE_PUSHGATEWAY_URL
  value: {{ $p.url | quote }}
{{- with $p.job }}
- name: SCHEMAGATE_PUSHGATEWAY_JOB
  value: {{ . | quote }}
{{- end }}
{{- if $p.existingSecret }}
{{- range $field := list "username" "password" "token" }}
{{- if index $p.secretKeys $field }}
- name: {{ printf "SCHEMAGATE_PUSHGATEWAY_%s_FILE" (upper $field) }}
  value: {{ printf "%s/%s" (include "schemagate.pushgatewayDir" $) $field | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "schemagate.metricsVolumeMounts" -}}
{{- $p := .Values.metrics.pushgateway }}
{{- if and $p.url $p.existingSecret }}
- name: schemagate-pushgateway
  mountPath: {{ include "schemagate.pushgatewayDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "schemagate.metricsVolumes" -}}
{{- $p := .Values.metrics.pushgateway }}
{{- if and $p.url $p.existingSecret }}
- name: schemagate-pushgateway
  secret:
    secretName: {{ $p.existingSecret }}
    defaultMode: 0444
    items:
      {{- range $field := list "username" "password" "token" }}
      {{- with index $p.secretKeys $field }}
      - key: {{ . | quote }}
        path: {{ $field }}
      {{- end }}
      {{- end }}
{{- end }}
{{- end }}

{{- define "schemagate.volumeMounts" -}}
{{- $db := .Values.database }}
{{- if and (include "schemagate.secretName" .) $db.mountSecret }}
- name: schemagate-db
  mountPath: {{ include "schemagate.secretDir" . }}
  readOnly: true
{{- end }}
{{- if $db.caSecret.name }}
- name: schemagate-ca
  mountPath: {{ include "schemagate.caDir" . }}
  readOnly: true
{{- end }}
{{- if $db.clientCertSecret.name }}
- name: schemagate-client-cert
  mountPath: {{ include "schemagate.clientCertDir" . }}
  readOnly: true
{{- end }}
{{- if include "schemagate.migrationsConfigMap" . }}
- name: schemagate-migrations
  mountPath: /migrations
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
PUBLIC. The volumes the schemagate containers mount, as list items (possibly none).
Files are mode 0444: readable by whatever UID the platform assigns, with no fsGroup; no
other process shares the volume.
*/}}
{{- define "schemagate.volumes" -}}
{{- $db := .Values.database }}
{{- $secret := include "schemagate.secretName" . }}
{{- if and $secret $db.mountSecret }}
{{- $keys := include "schemagate.secretKeys" . | fromJson }}
- name: schemagate-db
  secret:
    secretName: {{ $secret }}
    defaultMode: 0444
    items:
      {{- range $file := list "uri" "host" "port" "dbname" "username" "password" }}
      {{- with index $keys $file }}
      - key: {{ . | quote }}
        path: {{ $file }}
      {{- end }}
      {{- end }}
{{- end }}
{{- if $db.caSecret.name }}
- name: schemagate-ca
  secret:
    secretName: {{ $db.caSecret.name }}
    defaultMode: 0444
    items:
      - key: {{ $db.caSecret.key | quote }}
        path: ca.crt
{{- end }}
{{- if $db.clientCertSecret.name }}
- name: schemagate-client-cert
  secret:
    secretName: {{ $db.clientCertSecret.name }}
    defaultMode: 0444
    items:
      - key: {{ $db.clientCertSecret.certKey | quote }}
        path: tls.crt
      - key: {{ $db.clientCertSecret.keyKey | quote }}
        path: tls.key
{{- end }}
{{- with include "schemagate.migrationsConfigMap" . }}
- name: schemagate-migrations
  configMap:
    name: {{ . }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
One schemagate container. Call with (dict "root" $ "name" "migrate" "command" "migrate"
"resources" $.Values.job.resources), and optionally "env": a list of {name, value} maps
that only this container gets (the contract Job's wait).
*/}}
{{- define "schemagate.container" -}}
{{- $ := .root }}
{{- include "schemagate.validate" $ }}
name: {{ .name }}
image: {{ include "schemagate.image" $ | quote }}
imagePullPolicy: {{ $.Values.image.pullPolicy }}
args:
  - {{ .command }}
{{- $sends := or (eq .command "migrate") (eq .command "undo") }}
env:
  {{- include "schemagate.env" $ | trim | nindent 2 }}
  {{- if $sends }}
  {{- with include "schemagate.metricsEnv" $ | trim }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- end }}
  {{- range .env }}
  - name: {{ .name }}
    value: {{ .value | quote }}
  {{- end }}
{{- $mounts := include "schemagate.volumeMounts" $ | trim }}
{{- if $sends }}
{{- $mounts = printf "%s\n%s" $mounts (include "schemagate.metricsVolumeMounts" $ | trim) | trim }}
{{- end }}
{{- with $mounts }}
volumeMounts:
  {{- . | nindent 2 }}
{{- end }}
terminationMessagePolicy: FallbackToLogsOnError
{{- with .resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.containerSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
PUBLIC. The `schemagate wait` initContainer, as one list item: it waits until every local
versioned migration before the first pending contract script is applied and valid, and never
migrates or takes the lock. A pending contract script never holds the app's Pods back: it
waits for the old release's Pods to go. For that, the app's own containers name their
PostgreSQL sessions `<app>/<version>`: set PGAPPNAME (libpq, psycopg, node-postgres, Go's
pgx) or the JDBC URL's ApplicationName to {{ include "schemagate.applicationName" ... }}
(see that template), optionally followed by `/$(POD_NAME)`.
*/}}
{{- define "schemagate.initContainer" -}}
- {{ include "schemagate.container" (dict "root" . "name" .Values.initContainer.name "command" "wait" "resources" .Values.initContainer.resources) | trim | nindent 2 | trim }}
{{- end }}

{{/* The Pod spec shared by the hook Job and the test Pod. */}}
{{- define "schemagate.podSpec" -}}
{{- $ := .root }}
restartPolicy: Never
automountServiceAccountToken: false
# Service links would inject <SERVICE>_PORT variables; one for a Service named schemagate-*
# is an unknown SCHEMAGATE_* setting, which schemagate refuses (exit 78).
enableServiceLinks: false
{{- with $.Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with $.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - {{ include "schemagate.container" (dict "root" $ "name" .name "command" .command "resources" .resources "env" .env) | trim | nindent 4 | trim }}
{{- $volumes := include "schemagate.volumes" $ | trim }}
{{- if or (eq .command "migrate") (eq .command "undo") }}
{{- $volumes = printf "%s\n%s" $volumes (include "schemagate.metricsVolumes" $ | trim) | trim }}
{{- end }}
{{- with $volumes }}
volumes:
  {{- . | nindent 2 }}
{{- end }}
{{- with $.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A hook Job. Call with (dict "root" $ "suffix" "migrate" "hooks" "pre-install,pre-upgrade"
"component" "migration" "container" "migrate" "env" (list)), and optionally "command" (default
`migrate`; the undo Job's is `undo`). The Jobs share everything but their hooks, their name,
their command and the env of the contract wait or the undo.
*/}}
{{- define "schemagate.hookJob" -}}
{{- $ := .root }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "schemagate.objectName" (dict "root" $ "suffix" .suffix) }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "schemagate.labels" (dict "root" $ "component" .component) | nindent 4 }}
    {{- with $.Values.job.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    helm.sh/hook: {{ .hooks }}
    helm.sh/hook-weight: {{ $.Values.job.hookWeight | int | quote }}
    # A succeeded Job is removed; a failed one stays for `kubectl describe` until the next
    # release replaces it. No ttlSecondsAfterFinished: Helm would wait for a Job that is gone.
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
    {{- with $.Values.job.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- include "schemagate.jobSpec" . | trim | nindent 2 }}
{{- end }}

{{/* The spec of a Job, for the hook Jobs and the undo CronJob's jobTemplate. */}}
{{- define "schemagate.jobSpec" -}}
{{- $ := .root }}
backoffLimit: {{ $.Values.job.backoffLimit }}
# SCHEMAGATE_DEADLINE ends one run cleanly (exit 124); this ends the Job a minute later
# whatever happens, retries included.
activeDeadlineSeconds: {{ add (include "schemagate.deadlineSeconds" $ | int64) 60 }}
podFailurePolicy:
  rules:
    # Exit codes a retry cannot help: fail the Job now instead of repeating the failure.
    - action: FailJob
      onExitCodes:
        containerName: {{ .container }}
        operator: In
        values: {{ include "schemagate.nonRetryableExitCodes" $ }}
    # An evicted or preempted Pod (drain, node loss) is not schemagate's failure: retry
    # without counting it against backoffLimit.
    - action: Ignore
      onPodConditions:
        - type: DisruptionTarget
          status: "True"
template:
  metadata:
    labels:
      {{- include "schemagate.labels" (dict "root" $ "component" .component) | nindent 6 }}
      {{- with $.Values.podLabels }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with $.Values.podAnnotations }}
    annotations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
  spec:
    {{- include "schemagate.podSpec" (dict "root" $ "name" .container "command" (.command | default "migrate") "resources" $.Values.job.resources "env" .env) | trim | nindent 4 }}
{{- end }}

{{/*
The hook events of the Secret and the ConfigMap the Jobs read: also pre-rollback when the
undo Job runs on rollback, so that on `helm rollback` they are made again from the release
rolled back to — its scripts, not the newer release's — before the undo Job starts.
*/}}
{{- define "schemagate.inputHooks" -}}
pre-install,pre-upgrade{{ if .Values.rollback.undo.enabled }},pre-rollback{{ end }}
{{- end }}
