#!/usr/bin/env bash
# Checks the Kubernetes manifests of deploy/kubernetes/ as CI does: every
# file parses as YAML, and every workload has what docs/kubernetes.md relies
# on: a known kind, a memory limit on each container (and a request not
# above it), the termination message path and policy, the memwatch debug
# port (6060, named memwatch-debug), a GOMEMLIMIT from the downward API only
# with a divisor the API accepts, a valid resizePolicy. It also checks that
# the guide quotes each manifest verbatim, and that the checker itself
# rejects broken copies of the manifests (each mutation must fail).
#
#   ./scripts/test-k8s-yaml.sh
#
# Needs python3 with PyYAML (Debian: python3-yaml; installed here when
# missing and apt-get is available as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import yaml' 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq && apt-get install -y -qq python3-yaml >/dev/null
	else
		echo "python3 lacks PyYAML: install python3-yaml (Debian) or PyYAML"; exit 1
	fi
fi

python3 - <<'PY'
import copy, glob, re, sys
import yaml

GUIDE = "docs/kubernetes.md"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
KINDS = WORKLOADS | {"Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
DEBUG_PORT, DEBUG_NAME = 6060, "memwatch-debug"
POLICIES = {"File", "FallbackToLogsOnError"}
MEM_DIVISORS = {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(v):
    """Bytes of a memory quantity ("512Mi", "1G", "1e9", 536870912), or None."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?(?:[eE][0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?", str(v))
    if not m:
        return None
    return float(m.group(1)) * SUFFIX[m.group(2) or ""]


def pod_spec(doc):
    kind = doc["kind"]
    if kind == "Pod":
        return doc.get("spec")
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def check_doc(doc, where):
    errs = []
    err = errs.append
    if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
        return [f"{where}: not a Kubernetes object (apiVersion and kind)"]
    kind = doc["kind"]
    if kind not in KINDS:
        err(f"{where}: unexpected kind {kind!r}")
    if not doc.get("metadata", {}).get("name"):
        err(f"{where}: metadata.name missing")
    if kind not in WORKLOADS:
        return errs
    try:
        spec = pod_spec(doc)
    except (KeyError, TypeError):
        return errs + [f"{where}: {kind} without a pod template"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}:
        sel = doc["spec"].get("selector", {}).get("matchLabels", {})
        labels = doc["spec"]["template"].get("metadata", {}).get("labels", {})
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            err(f"{where}: selector.matchLabels {sel} does not match the template labels {labels}")
    containers = spec.get("containers") or []
    if not containers:
        err(f"{where}: no containers")
    debug = False
    for c in containers:
        cw = f"{where}: container {c.get('name')!r}"
        res = c.get("resources") or {}
        lim = quantity((res.get("limits") or {}).get("memory", "none"))
        req = (res.get("requests") or {}).get("memory")
        if lim is None:
            err(f"{cw}: resources.limits.memory missing or not a quantity (memwatch judges usage against it)")
        if req is not None and (quantity(req) is None or (lim is not None and quantity(req) > lim)):
            err(f"{cw}: resources.requests.memory {req!r} is not a quantity at most the limit")
        path = c.get("terminationMessagePath")
        if not isinstance(path, str) or not path.startswith("/"):
            err(f"{cw}: terminationMessagePath {path!r} is not an absolute path")
        if c.get("terminationMessagePolicy") not in POLICIES:
            err(f"{cw}: terminationMessagePolicy {c.get('terminationMessagePolicy')!r} not one of {sorted(POLICIES)}")
        for p in c.get("ports") or []:
            name = p.get("name", "")
            if name and (len(name) > 15 or not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name) or not re.search("[a-z]", name)):
                err(f"{cw}: port name {name!r} is not an IANA service name (≤ 15 lowercase letters, digits, '-')")
            if name == DEBUG_NAME:
                debug = True
                if p.get("containerPort") != DEBUG_PORT:
                    err(f"{cw}: port {DEBUG_NAME} is {p.get('containerPort')}, the guide forwards {DEBUG_PORT}")
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("resourceFieldRef")
            if ref is None:
                continue
            if ref.get("resource") not in {"limits.memory", "requests.memory", "limits.cpu", "requests.cpu"}:
                err(f"{cw}: env {e.get('name')}: resourceFieldRef.resource {ref.get('resource')!r}")
            if "memory" in str(ref.get("resource")) and str(ref.get("divisor", "1")) not in MEM_DIVISORS:
                err(f"{cw}: env {e.get('name')}: divisor {ref.get('divisor')!r} is refused by the API (one of {sorted(MEM_DIVISORS)})")
            if ref.get("containerName") not in (None, *[x.get("name") for x in containers]):
                err(f"{cw}: env {e.get('name')}: resourceFieldRef.containerName {ref.get('containerName')!r} names no container")
        for rp in c.get("resizePolicy") or []:
            if rp.get("resourceName") not in {"cpu", "memory"} or rp.get("restartPolicy") not in {"NotRequired", "RestartContainer"}:
                err(f"{cw}: resizePolicy entry {rp}")
    if not debug:
        err(f"{where}: no container declares the {DEBUG_NAME} port {DEBUG_PORT}")
    return errs


def check_file(path, docs=None):
    if docs is None:
        try:
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            return [f"{path}: {e}"]
    if not docs:
        return [f"{path}: no YAML document"]
    errs = []
    for i, d in enumerate(docs):
        errs += check_doc(d, f"{path}[{i}]")
    return errs


files = sorted(glob.glob("deploy/kubernetes/*.yaml")) + sorted(glob.glob("deploy/kubernetes/*.yml"))
if not files:
    sys.exit("no manifests in deploy/kubernetes/")
errors = []
for f in files:
    errors += check_file(f)
    print(f"checked {f}")

# The guide quotes each manifest verbatim after a marker line
# <!-- deploy/kubernetes/NAME.yaml -->.
guide = open(GUIDE).read()
quoted = dict(re.findall(r"<!-- (deploy/kubernetes/[^ ]+\.ya?ml) -->\n```yaml\n(.*?)```", guide, re.S))
for f in files:
    if f not in quoted:
        errors.append(f"{GUIDE}: does not quote {f} (a '<!-- {f} -->' line, then a yaml block)")
    elif quoted[f] != open(f).read():
        errors.append(f"{GUIDE}: the quote of {f} differs from the file")
for f in quoted:
    if f not in files:
        errors.append(f"{GUIDE}: quotes {f}, which does not exist")

# The checker must reject what the guide warns against.
with open(files[0]) as fh:
    base = [d for d in yaml.safe_load_all(fh) if d is not None]
c0 = lambda docs: pod_spec(docs[0])["containers"][0]
mutations = {
    "no memory limit": lambda d: c0(d)["resources"]["limits"].pop("memory"),
    "request above the limit": lambda d: c0(d)["resources"].setdefault("requests", {}).update(memory="4Gi"),
    "no termination message policy": lambda d: c0(d).pop("terminationMessagePolicy"),
    "relative termination message path": lambda d: c0(d).update(terminationMessagePath="termination-log"),
    "debug port moved": lambda d: [p.update(containerPort=7070) for p in c0(d)["ports"] if p.get("name") == DEBUG_NAME],
    "no debug port": lambda d: c0(d).update(ports=[p for p in c0(d)["ports"] if p.get("name") != DEBUG_NAME]),
    "fractional divisor": lambda d: c0(d).setdefault("env", []).append(
        {"name": "GOMEMLIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1.1"}}}),
    "unknown kind": lambda d: d[0].update(kind="Deploymnet"),
    "selector mismatch": lambda d: d[0]["spec"]["selector"]["matchLabels"].update(app="other"),
}
for name, mutate in mutations.items():
    docs = copy.deepcopy(base)
    mutate(docs)
    if not check_file(f"{files[0]} ({name})", docs):
        errors.append(f"self-test: the checker accepted a manifest with {name}")
print(f"self-test: {len(mutations)} broken manifests checked")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print("ok")
PY
