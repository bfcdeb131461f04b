{{/* The chart's name. */}}
{{- define "cobranca.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: every object's name starts with it. */}}
{{- define "cobranca.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cobranca.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "cobranca.labels" -}}
helm.sh/chart: {{ include "cobranca.chart" . }}
app.kubernetes.io/name: {{ include "cobranca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cobranca
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "cobranca.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cobranca.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of one component. */}}
{{- define "cobranca.componentLabels" -}}
{{ include "cobranca.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cobranca.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "cobranca.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cobranca.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cobranca.configMapName" -}}
{{- printf "%s-config" (include "cobranca.fullname" .) -}}
{{- end -}}

{{- define "cobranca.secretName" -}}
{{- default (printf "%s-secrets" (include "cobranca.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "cobranca.messagingSecretName" -}}
{{- default (printf "%s-messaging" (include "cobranca.fullname" .)) .Values.secrets.existingMessagingSecret -}}
{{- end -}}

{{/* Whether the messaging service gets a Secret of extra environment. */}}
{{- define "cobranca.hasMessagingSecret" -}}
{{- if or .Values.secrets.existingMessagingSecret .Values.secrets.messagingEnv -}}true{{- end -}}
{{- end -}}

{{- define "cobranca.kafkaBootstrap" -}}
{{- required "kafka.bootstrapServers is required: the Kafka cluster's bootstrap servers (host:port,...)" .Values.kafka.bootstrapServers -}}
{{- end -}}

{{/* The services, in the order they are rendered. */}}
{{- define "cobranca.serviceNames" -}}
clock portfolio negotiation ruler messaging gateway
{{- end -}}

{{/* One egress rule: (dict "peers" [...] "ports" [...]). Empty peers: any address. */}}
{{- define "cobranca.egressRule" -}}
- ports:
    {{- toYaml .ports | nindent 4 }}
  {{- with .peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* The egress every cobranca pod needs: DNS, Kafka, PostgreSQL, the OTLP collector. */}}
{{- define "cobranca.commonEgress" -}}
{{- $np := .Values.networkPolicy -}}
{{ include "cobranca.egressRule" (dict "peers" $np.dns.peers "ports" $np.dns.ports) }}
{{ include "cobranca.egressRule" (dict "peers" $np.kafka.peers "ports" $np.kafka.ports) }}
{{ include "cobranca.egressRule" (dict "peers" $np.postgresql.peers "ports" $np.postgresql.ports) }}
{{- if .Values.telemetry.otlpEndpoint }}
{{ include "cobranca.egressRule" (dict "peers" $np.otlp.peers "ports" $np.otlp.ports) }}
{{- end }}
{{- end -}}
