"""The metric surface: names, types, HELP, label names and order, gates, values."""

from __future__ import annotations

import re
import time

from exporter_helpers import file_source, make_cert, make_crl, make_p12, name, series
from prometheus_client.parser import text_string_to_metric_families

from x509_mixin.catalogue import metrics as cat

EMPTY_K8S = (
    'embedded_kind="",embedded_key="",secret_namespace="",secret_name="",secret_key="",'
    'configmap_namespace="",configmap_name="",configmap_key="",cabundle_resource_kind="",'
    'cabundle_resource_name="",cabundle_entry=""'
)


def go_exp(v: int) -> str:
    from x509_mixin.exporter.exposition import go_float

    return go_float(v)


def test_exact_line_label_order_and_defaults(tmp_path, exporter, ca):
    leaf = make_cert(
        subject=name(C="FR", ST="IDF", L="Paris", O="Acme", OU="Ops", CN="www.acme.test"), issuer=ca, serial=4242
    )
    p = tmp_path / "site.pem"
    p.write_bytes(leaf.pem)
    run = exporter({"sources": [file_source(p)]})
    text = run.metrics_text()
    want = (
        f'x509_cert_not_after{{filename="site.pem",filepath="{p}",{EMPTY_K8S},serial_number="4242",'
        f'crl_number="",issuer_C="",issuer_ST="",issuer_L="",issuer_O="",issuer_OU="",issuer_CN="Test Root CA",'
        f'subject_C="FR",subject_ST="IDF",subject_L="Paris",subject_O="Acme",subject_OU="Ops",'
        f'subject_CN="www.acme.test",discriminator=""}} {go_exp(leaf.not_after)}\n'
    )
    assert want in text
    assert want.replace("x509_cert_not_after", "x509_cert_expired").replace(go_exp(leaf.not_after), "0") in text
    # default gates: not_before, relative, per-cert error and diagnostics are off
    for absent in (
        "x509_cert_not_before",
        "x509_cert_expires_in_seconds",
        "x509_cert_valid_since_seconds",
        "x509_cert_error",
        "x509_parse_duration_seconds",
        "x509_pkcs12_passphrase_failures_total",
    ):
        assert absent not in text
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    # every family: the catalogue's type and HELP; label names in the catalogue's order
    for fname, fam in fams.items():
        meta = cat.BY_NAME.get(fname) or cat.BY_NAME[fname + "_total"]  # the parser drops _total
        assert fam.type == meta.type, fname
        assert fam.documentation == meta.help
    labels = list(fams["x509_cert_not_after"].samples[0].labels)
    assert labels == list(cat.CERT_LABELS) + ["discriminator"]
    src = run.samples("x509_source_up")
    assert [(s.labels, s.value) for s in src] == [({"source_kind": "file", "source_name": "files"}, 1.0)]
    assert run.samples("x509_source_bundles")[0].value == 1
    assert {s.labels["reason"] for s in run.samples("x509_source_errors_total")} <= set(cat.BUNDLE_REASONS)
    assert all(s.value == 0 for s in run.samples("x509_source_errors_total"))
    bi = run.samples("x509_exporter_build_info")[0]
    assert list(bi.labels) == list(cat.BY_NAME["x509_exporter_build_info"].labels) and bi.value == 1
    assert bi.labels["go_runtime"].startswith("cpython3.") and bi.labels["go_os"] == "linux"
    assert run.samples("x509_cert_collision_total") and run.samples("x509_cert_collision_dropped_total")
    assert run.samples("x509_scrape_duration_seconds_count")[0].value >= 1
    buckets = [s.labels["le"] for s in run.samples("x509_scrape_duration_seconds_bucket")]
    assert buckets == ["0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "30", "+Inf"]
    # families come sorted by name, as client_golang writes them
    names = re.findall(r"^# TYPE (\S+)", text, re.M)
    assert names == sorted(names)


def test_chain_gives_one_series_per_certificate(tmp_path, exporter, ca):
    inter = make_cert("Intermediate", issuer=ca, ca=True, days=900)
    leaf = make_cert("leaf", issuer=inter, days=20)
    p = tmp_path / "fullchain.pem"
    p.write_bytes(leaf.pem + inter.pem + ca.pem)
    run = exporter({"sources": [file_source(tmp_path / "*.pem")]})
    s = run.samples("x509_cert_not_after")
    assert sorted(x.labels["subject_CN"] for x in s) == ["Intermediate", "Test Root CA", "leaf"]
    assert {x.labels["filepath"] for x in s} == {str(p)}
    assert {x.labels["discriminator"] for x in s} == {""}
    assert series(s, subject_CN="leaf")[0].value == leaf.not_after
    assert run.samples("x509_source_bundles")[0].value == 1


def test_gates_on(tmp_path, exporter, ca):
    expired = make_cert("old", issuer=ca, days=-2, start_days=-30)
    good = make_cert("good", issuer=ca, days=10)
    (tmp_path / "old.pem").write_bytes(expired.pem)
    (tmp_path / "good.pem").write_bytes(good.pem)
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    # The relative gauges are computed between the exporter's start and the scrape: bound them by
    # the clock around both, however slow the machine.
    started = time.time()
    run = exporter(
        {
            "sources": [file_source(tmp_path / "*.pem")],
            "metrics": {
                "exposeNotBefore": True,
                "exposeRelative": True,
                "exposePerCertError": True,
                "exposeDiagnostics": True,
            },
        }
    )
    fams = run.families()
    scraped = time.time()
    nb = fams["x509_cert_not_before"].samples
    assert series(nb, subject_CN="good")[0].value == good.not_before
    assert series(fams["x509_cert_expired"].samples, subject_CN="old")[0].value == 1
    assert series(fams["x509_cert_expired"].samples, subject_CN="good")[0].value == 0
    exp_in = series(fams["x509_cert_expires_in_seconds"].samples, subject_CN="old")[0].value
    assert expired.not_after - scraped - 1 <= exp_in <= expired.not_after - started + 1
    since = series(fams["x509_cert_valid_since_seconds"].samples, subject_CN="good")[0].value
    assert started - good.not_before - 1 <= since <= scraped - good.not_before + 1
    err = fams["x509_cert_error"].samples
    assert series(err, subject_CN="good")[0].value == 0
    bad = series(err, filename="bad.pem")
    assert len(bad) == 1 and bad[0].value == 1 and bad[0].labels["serial_number"] == ""
    assert list(bad[0].labels) == list(cat.CERT_LABELS) + ["discriminator"]
    parse = fams["x509_parse_duration_seconds"].samples
    assert {s.labels["format"] for s in parse} == {"pem"}
    assert [s.labels["le"] for s in parse if s.name.endswith("_bucket")][:-1] == [
        "0.001",
        "0.005",
        "0.01",
        "0.05",
        "0.1",
        "0.5",
        "1",
        "5",
    ]


def test_expired_off_and_dn_fields_and_trim(tmp_path, exporter, ca):
    leaf = make_cert(subject=name(C="DE", O="Org", CN="x"), issuer=ca)
    d = tmp_path / "a" / "b"
    d.mkdir(parents=True)
    (d / "c.pem").write_bytes(leaf.pem)
    run = exporter(
        {
            "sources": [file_source(d / "c.pem")],
            "metrics": {
                "exposeExpired": False,
                "exposeSubjectFields": ["CN", "O"],
                "exposeIssuerFields": ["CN"],
                "trimPathComponents": 2,
            },
        }
    )
    fams = run.families()
    assert "x509_cert_expired" not in fams and fams
    s = fams["x509_cert_not_after"].samples[0]
    assert [k for k in s.labels if k.startswith(("issuer_", "subject_"))] == ["issuer_CN", "subject_O", "subject_CN"]
    parts = str(d / "c.pem").lstrip("/").split("/")
    assert s.labels["filepath"] == "/" + "/".join(parts[2:])
    assert s.labels["filename"] == "c.pem"


def test_crl_pem_and_der(tmp_path, exporter, ca):
    crl = make_crl(ca, number=7, next_days=3)
    stale = make_crl(ca, number=None, next_days=-1, this_days=-10)
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "ca.crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
    (tmp_path / "stale.crl").write_bytes(stale.public_bytes(Encoding.DER))
    run = exporter(
        {
            "sources": [
                file_source(tmp_path / "ca.crl.pem", name="pem"),
                file_source(tmp_path / "stale.crl", name="der", formats=["der"]),
            ],
            "metrics": {"exposeRelative": True},
        }
    )
    fams = run.families()
    nu = fams["x509_crl_next_update"].samples
    p = series(nu, filename="ca.crl.pem")[0]
    assert p.value == int(crl.next_update_utc.timestamp())
    assert p.labels["crl_number"] == "7" and p.labels["serial_number"] == "" and p.labels["subject_CN"] == ""
    assert p.labels["issuer_CN"] == "Test Root CA"
    assert series(fams["x509_crl_this_update"].samples, filename="ca.crl.pem")[0].value == int(
        crl.last_update_utc.timestamp()
    )
    assert series(fams["x509_crl_number"].samples, filename="ca.crl.pem")[0].value == 7
    assert series(fams["x509_crl_number"].samples, filename="stale.crl")[0].value == 0
    assert series(fams["x509_crl_stale"].samples, filename="ca.crl.pem")[0].value == 0
    assert series(fams["x509_crl_stale"].samples, filename="stale.crl")[0].value == 1
    assert series(fams["x509_crl_stale_in_seconds"].samples, filename="stale.crl")[0].value < 0
    assert series(fams["x509_crl_fresh_since_seconds"].samples, filename="stale.crl")[0].value > 9 * 86400
    assert "x509_cert_not_after" not in fams


def test_der_and_pkcs12_formats(tmp_path, exporter, ca):
    a = make_cert("der-cert", issuer=ca)
    b = make_cert("p12-cert", issuer=ca)
    (tmp_path / "a.der").write_bytes(a.der)
    (tmp_path / "b.p12").write_bytes(make_p12(b, [ca], passphrase=b"pa55"))
    run = exporter(
        {
            "sources": [
                file_source(tmp_path / "a.der", name="der", formats=["pem", "der"]),
                file_source(tmp_path / "b.p12", name="p12", formats=["pkcs12"], pkcs12={"passphrase": "pa55"}),
            ]
        }
    )
    s = run.samples("x509_cert_not_after")
    assert sorted(x.labels["subject_CN"] for x in s) == ["Test Root CA", "der-cert", "p12-cert"]
    # upstream pre-creates the counter for every source once one of them reads PKCS#12
    pf = run.samples("x509_pkcs12_passphrase_failures_total")
    assert [(x.labels, x.value) for x in pf] == [({"source_name": "der"}, 0.0), ({"source_name": "p12"}, 0.0)]


def test_label_escaping(tmp_path, exporter, ca):
    weird = 'quo"te back\\slash new\nline é漢字'
    leaf = make_cert(subject=name(O=weird, CN="ü-ñ"), issuer=ca)
    d = tmp_path / 'dir "x"'
    d.mkdir()
    (d / "ça.pem").write_bytes(leaf.pem)
    run = exporter({"sources": [file_source(d / "*.pem")]})
    text = run.metrics_text()
    assert 'subject_O="quo\\"te back\\\\slash new\\nline é漢字"' in text
    assert 'filename="ça.pem"' in text and '\\"x\\"' in text
    s = run.samples("x509_cert_not_after")[0]
    assert s.labels["subject_O"] == weird and s.labels["subject_CN"] == "ü-ñ"
    assert s.labels["filepath"] == str(d / "ça.pem")


def _dup(tmp_path, ca):
    leaf = make_cert("dup", issuer=ca, serial=99)
    other = make_cert("dup", issuer=ca, serial=99, days=5)  # same labels, earlier expiry
    (tmp_path / "dup.pem").write_bytes(leaf.pem + other.pem)
    return leaf, other


def test_collision_auto(tmp_path, exporter, ca):
    _dup(tmp_path, ca)
    run = exporter({"sources": [file_source(tmp_path / "dup.pem")]})
    s = run.samples("x509_cert_not_after")
    assert len(s) == 2
    discs = {x.labels["discriminator"] for x in s}
    assert len(discs) == 2 and all(re.fullmatch(r"[0-9a-f]{8}", d) for d in discs)
    c1 = run.samples("x509_cert_collision_total")[0].value
    c2 = run.samples("x509_cert_collision_total")[0].value
    assert c2 == c1 + 1  # ticks on every scrape while the collision lasts
    assert run.samples("x509_cert_collision_dropped_total")[0].value == 0


def test_collision_always_and_length(tmp_path, exporter, ca):
    (tmp_path / "one.pem").write_bytes(make_cert("one", issuer=ca).pem)
    run = exporter(
        {
            "sources": [file_source(tmp_path / "one.pem")],
            "metrics": {"collisionDiscriminator": "always", "collisionDiscriminatorLength": 12},
        }
    )
    assert re.fullmatch(r"[0-9a-f]{12}", run.samples("x509_cert_not_after")[0].labels["discriminator"])


def test_collision_never_drops(tmp_path, exporter, ca):
    leaf, other = _dup(tmp_path, ca)
    run = exporter({"sources": [file_source(tmp_path / "dup.pem")], "metrics": {"collisionDiscriminator": "never"}})
    s = run.samples("x509_cert_not_after")
    assert len(s) == 1 and "discriminator" not in s[0].labels
    assert s[0].value == other.not_after  # the earliest expiry is kept
    assert run.samples("x509_cert_collision_dropped_total")[0].value >= 1
    assert list(s[0].labels) == list(cat.CERT_LABELS)


def test_kubeconfig_source(tmp_path, exporter, ca):
    import base64

    user = make_cert("admin", issuer=ca)
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://k8s.example:6443
    certificate-authority: ca.crt
users:
- name: admin@prod
  user:
    client-certificate-data: {base64.b64encode(user.pem).decode()}
    client-key-data: c2VjcmV0
- name: broken
  user:
    client-certificate-data: "!!!notbase64"
""")
    run = exporter({"sources": [{"kind": "kubeconfig", "name": "kc", "paths": [str(kc)]}]})
    s = run.samples("x509_cert_not_after")
    got = {(x.labels["embedded_kind"], x.labels["embedded_key"], x.labels["subject_CN"]) for x in s}
    assert got == {("cluster", "prod", "Test Root CA"), ("user", "admin@prod", "admin")}
    assert {x.labels["filename"] for x in s} == {"kubeconfig"}
    assert run.errors()["decode_failed"] == 1
    assert [(x.labels, x.value) for x in run.samples("x509_source_up")] == [
        ({"source_kind": "kubeconfig", "source_name": "kc"}, 1.0)
    ]
    assert series(run.samples("x509_source_bundles"), source_name="kc")[0].value == 3
