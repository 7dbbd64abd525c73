#!/usr/bin/env python3
"""Validates fhgate's Kubernetes manifests offline.

    target/venv/bin/python deploy/kubernetes/validate.py [-k VERSION] FILE.yaml...

Every resource is checked against a schema, or the run fails:
- built-in kinds: kubernetes-validate's schemas, strict (unknown fields are
  errors), for VERSION (default: the newest it ships);
- CRDs Kubernetes has no schema for (ServiceMonitor,
  NetworkAttachmentDefinition): fhgate's own in deploy/kubernetes/schemas/;
  a NetworkAttachmentDefinition's CNI config must parse as JSON too.
Then fhgate's rules across the files: a gateway's containers have
Guaranteed QoS with whole CPUs (the CPU manager's static policy), drop all
capabilities and add exactly fhgate's four, run as non-root; and every
reference resolves (networks, ConfigMaps, Services to pods, the
ServiceMonitor to a Service port). One line per resource on stdout.
"""

import argparse
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate as kv
import yaml

SCHEMAS = pathlib.Path(__file__).resolve().parent / "schemas"
CAPABILITIES = {"NET_RAW", "NET_ADMIN", "BPF", "SYS_NICE"}
NETWORKS = "k8s.v1.cni.cncf.io/networks"


def crd_schema_path(doc):
    """Where fhgate's schema for a CRD is, by kind and apiVersion."""
    group, _, version = doc["apiVersion"].rpartition("/")
    return SCHEMAS / f"{doc['kind'].lower()}.{group}_{version}.json"


def check_schema(doc, version):
    """Returns (how it was validated, [errors])."""
    try:
        kv.validate(doc, version, strict=True)
        return f"kubernetes {kv.utils.major_minor(version)} strict", []
    except kv.SchemaNotFoundError:
        pass
    except kv.ValidationError as e:
        return f"kubernetes {kv.utils.major_minor(version)} strict", [e.message]
    path = crd_schema_path(doc)
    if not path.exists():
        return "none", [f"no schema: Kubernetes {version} has none for {doc['apiVersion']} {doc['kind']}, "
                        f"and there is no {path}"]
    v = jsonschema.Draft202012Validator(json.loads(path.read_text()))
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in v.iter_errors(doc)]
    if doc["kind"] == "NetworkAttachmentDefinition" and not errors:
        try:
            cni = json.loads(doc["spec"]["config"])
        except json.JSONDecodeError as e:
            errors.append(f"spec/config: not JSON: {e}")
        else:
            for key in ("cniVersion", "type"):
                if not isinstance(cni, dict) or not isinstance(cni.get(key), str):
                    errors.append(f"spec/config: CNI config needs a string `{key}`")
    return f"fhgate schema {path.name}", errors


def pod_spec(doc):
    if doc["kind"] in ("Deployment", "DaemonSet", "StatefulSet"):
        return doc["spec"]["template"]
    return None


def check_gateway(doc):
    """fhgate's rules for a workload that runs the gateway."""
    errors = []
    tpl = pod_spec(doc)
    spec = tpl["spec"]
    if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
        errors.append("spec.template.spec.securityContext.runAsNonRoot: must be true")
    for c in spec["containers"]:
        where = f"container {c['name']}"
        res = c.get("resources", {})
        req, lim = res.get("requests", {}), res.get("limits", {})
        for r in ("cpu", "memory"):
            if r not in req or req.get(r) != lim.get(r):
                errors.append(f"{where}: resources.requests.{r} must equal limits.{r} (Guaranteed QoS)")
        cpu = str(lim.get("cpu", ""))
        if not cpu.isdigit() or int(cpu) < 1:
            errors.append(f"{where}: limits.cpu `{cpu}` must be a whole number of CPUs (CPU manager static policy)")
        caps = c.get("securityContext", {}).get("capabilities", {})
        if caps.get("drop") != ["ALL"]:
            errors.append(f"{where}: securityContext.capabilities.drop must be [ALL]")
        if set(caps.get("add", [])) != CAPABILITIES or len(caps.get("add", [])) != len(CAPABILITIES):
            errors.append(f"{where}: securityContext.capabilities.add must be exactly {sorted(CAPABILITIES)}")
    return errors


def check_references(docs):
    """Names that one resource gives and another must find."""
    errors = []
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    def named(kind, ns, name):
        return any(d["metadata"]["name"] == name and d["metadata"].get("namespace") == ns
                   for d in by_kind.get(kind, []))

    pods = [(d, pod_spec(d)) for d in docs if pod_spec(d)]
    for d, tpl in pods:
        ns, who = d["metadata"].get("namespace"), f"{d['kind']}/{d['metadata']['name']}"
        nets = tpl["metadata"].get("annotations", {}).get(NETWORKS)
        for n in (json.loads(nets) if nets else []):
            if not named("NetworkAttachmentDefinition", ns, n["name"]):
                errors.append(f"{who}: network `{n['name']}` has no NetworkAttachmentDefinition in {ns}")
        for v in tpl["spec"].get("volumes", []):
            if "configMap" in v and not named("ConfigMap", ns, v["configMap"]["name"]):
                errors.append(f"{who}: volume {v['name']}: no ConfigMap `{v['configMap']['name']}` in {ns}")
    for s in by_kind.get("Service", []):
        ns, sel = s["metadata"].get("namespace"), s["spec"].get("selector", {})
        matches = [tpl for d, tpl in pods if d["metadata"].get("namespace") == ns
                   and sel.items() <= tpl["metadata"].get("labels", {}).items()]
        if not matches:
            errors.append(f"Service/{s['metadata']['name']}: selector {sel} matches no pod template")
        for p in s["spec"]["ports"]:
            t = p.get("targetPort")
            if isinstance(t, str) and not all(any(cp.get("name") == t for c in tpl["spec"]["containers"]
                                                  for cp in c.get("ports", [])) for tpl in matches):
                errors.append(f"Service/{s['metadata']['name']}: targetPort `{t}` is not a container port")
    for m in by_kind.get("ServiceMonitor", []):
        sel = m["spec"]["selector"].get("matchLabels", {})
        names = m["spec"].get("namespaceSelector", {}).get("matchNames")
        svcs = [s for s in by_kind.get("Service", []) if sel.items() <= s["metadata"].get("labels", {}).items()
                and (names is None or s["metadata"].get("namespace") in names)]
        if not svcs:
            errors.append(f"ServiceMonitor/{m['metadata']['name']}: selects no Service")
        for e in m["spec"]["endpoints"]:
            for s in svcs:
                if "port" in e and not any(p.get("name") == e["port"] for p in s["spec"]["ports"]):
                    errors.append(f"ServiceMonitor/{m['metadata']['name']}: Service/{s['metadata']['name']} has no port `{e['port']}`")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", "--kubernetes-version", default=kv.latest_version())
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    docs, failed = [], False
    for f in a.files:
        with open(f) as fh:
            for i, doc in enumerate(yaml.safe_load_all(fh)):
                if doc is None:
                    continue
                if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                    print(f"FAIL {f} document {i}: not a resource (no apiVersion and kind)")
                    failed = True
                    continue
                name = f"{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}"
                how, errors = check_schema(doc, a.kubernetes_version)
                if not errors and doc["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "fhgate" and pod_spec(doc):
                    errors = check_gateway(doc)
                for e in errors:
                    print(f"FAIL {f} {name}: {e}")
                failed |= bool(errors)
                if not errors:
                    print(f"ok {f} {name} ({how})")
                docs.append(doc)
    # The rules apply to each alternative's set of files as given together.
    for e in check_references(docs):
        print(f"FAIL references: {e}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
