"""Go-template fragments for alert annotations (Prometheus alert templating).

They name a certificate's place for every source kind of the exporter, where the Helm
chart's descriptions only know Secrets and files.
"""

from __future__ import annotations

# Exactly one of these label groups is filled per certificate; the file case comes last
# because kubeconfig certificates also carry a filepath.
PLACE = (
    "{{ if $labels.secret_name }}Secret {{ $labels.secret_namespace }}/{{ $labels.secret_name }}"
    " key {{ $labels.secret_key }}"
    "{{ else if $labels.configmap_name }}ConfigMap {{ $labels.configmap_namespace }}/{{ $labels.configmap_name }}"
    " key {{ $labels.configmap_key }}"
    "{{ else if $labels.cabundle_resource_name }}{{ $labels.cabundle_resource_kind }}"
    " {{ $labels.cabundle_resource_name }} caBundle{{ with $labels.cabundle_entry }} entry {{ . }}{{ end }}"
    "{{ else if $labels.embedded_kind }}kubeconfig {{ $labels.filepath }}"
    " ({{ $labels.embedded_kind }} {{ $labels.embedded_key }})"
    "{{ else }}file {{ $labels.filepath }}{{ end }}"
)

CERTIFICATE = (
    "The certificate{{ with $labels.subject_CN }} CN={{ . }}{{ end }}"
    "{{ with $labels.issuer_CN }} (issuer CN={{ . }}){{ end }} in " + PLACE
)

CRL = "The CRL{{ with $labels.issuer_CN }} of issuer CN={{ . }}{{ end }} in " + PLACE

# $value is seconds until the date: negative once it has passed.
EXPIRES = (
    '{{ if lt $value 0.0 }}expired {{ reReplaceAll "^-" "" (humanizeDuration $value) }} ago'
    "{{ else }}expires in {{ humanizeDuration $value }}{{ end }}"
)

REPORTER = "{{ with $labels.instance }} (reported by {{ . }}){{ end }}"


def locality(labels: tuple[str, ...]) -> str:
    """Where a node-local file is, for the labels deduplication keeps: " on node cp-2"."""
    return "".join(f"{{{{ with $labels.{label} }}}} on {label} {{{{ . }}}}{{{{ end }}}}" for label in labels)


COUNT = '{{ printf "%.0f" $value }}'
