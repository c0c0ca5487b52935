# .ci/run step 'image': the FROM scratch image: built with buildah, run with podman.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "container image (FROM scratch): build with buildah, run with podman (no daemon)"
use_linux_binary
need_debian buildah:buildah podman:podman runc:runc
ctx="$ci/image-context"
mkdir -p "$ctx" target/image
cp "$bin" "$ctx/mcp-sigv4"
store=(--root "$ci/containers/storage" --runroot "$ci/containers/run" --storage-driver vfs)
buildah "${store[@]}" bud --quiet --timestamp 0 -f .packaging/Containerfile -t localhost/mcp-sigv4:ci "$ctx"
rm -f target/image/mcp-sigv4-oci.tar
buildah "${store[@]}" push --quiet localhost/mcp-sigv4:ci "oci-archive:$root/target/image/mcp-sigv4-oci.tar:mcp-sigv4:$version"
python3 - target/image/mcp-sigv4-oci.tar "$hash" <<'EOF' || fail "the image is not the binary alone"
import hashlib, io, json, sys, tarfile
oci = tarfile.open(sys.argv[1])
blob = lambda d: oci.extractfile("blobs/" + d.replace(":", "/")).read()
index = json.loads(oci.extractfile("index.json").read())
manifest = json.loads(blob(index["manifests"][0]["digest"]))
config = json.loads(blob(manifest["config"]["digest"]))
assert config["config"]["Entrypoint"] == ["/mcp-sigv4"], config["config"]
assert len(manifest["layers"]) == 1, manifest["layers"]
layer = tarfile.open(fileobj=io.BytesIO(blob(manifest["layers"][0]["digest"])))
files = [m for m in layer.getmembers() if m.isfile()]
assert [m.name.lstrip("./") for m in files] == ["mcp-sigv4"], [m.name for m in layer.getmembers()]
got = hashlib.sha256(layer.extractfile(files[0]).read()).hexdigest()
assert got == sys.argv[2], got
print(f"image: one layer, one file (/mcp-sigv4, the static binary), entrypoint {config['config']['Entrypoint']}, user {config['config'].get('User')}")
print(f"image manifest {index['manifests'][0]['digest']}")
EOF
cp target/image/mcp-sigv4-oci.tar target/dist/
# This machine allows no rlimit raise and has hybrid cgroups: runc with the
# cgroupfs manager and the host's limits work; an engine-less run that fails
# before our binary starts is reported, not hidden.
printf '[containers]\ndefault_ulimits = []\n' >"$ci/containers.conf"
export CONTAINERS_CONF="$ci/containers.conf"
run=(podman "${store[@]}" --runtime runc --cgroup-manager cgroupfs run -i --rm --network host --ulimit host)
if out=$("${run[@]}" localhost/mcp-sigv4:ci --version 2>&1); then
  echo "podman run: $out"
  smoke "${run[@]}" -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_EC2_METADATA_DISABLED -e HOME localhost/mcp-sigv4:ci
else
  skip_loudly "podman cannot start containers on this machine: $out (the image was built and its contents checked above)"
fi
unset CONTAINERS_CONF

