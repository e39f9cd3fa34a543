#!/usr/bin/env bash
# demo.sh — the main job end to end: start goldsmith on its embedded
# defaults (SQLite, account 000000000000, keys test/test) in a temporary
# data dir, drive it with the AWS CLI, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--buildvcs=false}
PATH=$PATH:/usr/local/go/bin

scripts/deps.sh
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/goldsmith ./cmd/goldsmith # static: builds stage it into images
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/goldsmith-agent ./cmd/goldsmith-agent # build VMs' /init
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/goldsmith-runner ./cmd/goldsmith-runner # PID 1 of container build sandboxes
go build -o bin/fakes3 ./tools/fakes3 # an in-memory S3-compatible endpoint for the VM image exports

port=${GOLDSMITH_DEMO_PORT:-8600}
while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
endpoint=http://127.0.0.1:$port
data=$(mktemp -d)
log=$data/server.log
rport=$((port + 1))
while (exec 3<>/dev/tcp/127.0.0.1/$rport) 2>/dev/null; do rport=$((rport + 1)); done
bin/fakes3 >"$data/fakes3.url" 2>"$data/fakes3.log" &
s3pid=$!
for _ in $(seq 50); do [ -s "$data/fakes3.url" ] && break; sleep 0.1; done
s3url=$(cat "$data/fakes3.url")
# Embedded defaults, plus where VM images are exported (S3) and a second
# region to distribute them to.
cat >"$data/goldsmith.yaml" <<YAML
regions: [us-east-1, us-west-2]
s3: {endpoint: "$s3url", region: us-east-1, accessKeyId: demo, secretAccessKey: demo, usePathStyle: true}
YAML
bin/goldsmith serve --config "$data/goldsmith.yaml" --listen 127.0.0.1:$port --registry-listen 127.0.0.1:$rport --data-dir "$data" >"$log" 2>&1 &
server=$!
cleanup() {
	kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
	kill "$s3pid" 2>/dev/null && wait "$s3pid" 2>/dev/null || true
	rm -rf "$data"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
ib() { aws --endpoint-url "$endpoint" imagebuilder "$@"; }
for _ in $(seq 100); do
	ib list-components >/dev/null 2>&1 && break
	kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
	sleep 0.1
done

echo "== goldsmith is serving on $endpoint"
echo "== aws imagebuilder create-component"
arn=$(ib create-component --name HelloWorld --semantic-version 1.0.0 --platform Linux \
	--data file://examples/components/hello.yml --query componentBuildVersionArn --output text)
echo "$arn"
echo "== aws imagebuilder get-component"
ib get-component --component-build-version-arn "$arn" \
	--query 'component.{name:name,version:version,type:type,parameters:parameters,dateCreated:dateCreated}'
echo "== aws imagebuilder list-components"
ib list-components --output table
echo "== goldsmith base build busybox-x86-container (from Debian's busybox-static, pushed to the built-in registry)"
bin/goldsmith base build busybox-x86-container --endpoint "$endpoint"
echo "== aws imagebuilder list-images --owner Amazon"
ib list-images --owner Amazon --query 'imageVersionList[].{arn:arn,type:type,osVersion:osVersion}' --output table

echo "== a container recipe on the busybox base, infrastructure, distribution and a pipeline"
recipe=$(ib create-container-recipe --name demo --semantic-version 1.0.0 --container-type DOCKER \
	--parent-image "arn:aws:imagebuilder:us-east-1:aws:image/busybox-x86-container/x.x.x" \
	--components "componentArn=$arn" \
	--dockerfile-template-data $'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n' \
	--target-repository service=ECR,repositoryName=demo --query containerRecipeArn --output text)
infra=$(ib create-infrastructure-configuration --name demo --instance-profile-name local \
	--instance-types local.small --query infrastructureConfigurationArn --output text)
dist=$(ib create-distribution-configuration --name demo --distributions \
	'[{"region":"us-east-1","containerDistributionConfiguration":{"targetRepository":{"service":"ECR","repositoryName":"demo"},"containerTags":["latest"]}}]' \
	--query distributionConfigurationArn --output text)
pipeline=$(ib create-image-pipeline --name demo --container-recipe-arn "$recipe" \
	--infrastructure-configuration-arn "$infra" --distribution-configuration-arn "$dist" \
	--query imagePipelineArn --output text)
echo "$pipeline"

echo "== aws imagebuilder start-image-pipeline-execution"
image=$(ib start-image-pipeline-execution --image-pipeline-arn "$pipeline" --query imageBuildVersionArn --output text)
echo "$image"
status=""
for _ in $(seq 600); do
	now=$(ib get-image --image-build-version-arn "$image" --query image.state.status --output text)
	[ "$now" != "$status" ] && echo "   $now" && status=$now
	case $now in AVAILABLE | FAILED | CANCELLED) break ;; esac
	sleep 0.5
done
ib get-image --image-build-version-arn "$image" --query 'image.{state:state,osVersion:osVersion,containers:outputResources.containers}'
echo "== aws imagebuilder list-workflow-executions"
ib list-workflow-executions --image-build-version-arn "$image" \
	--query 'workflowExecutions[].{type:type,status:status,steps:totalStepCount,start:startTime,end:endTime}' --output table
[ "$status" = AVAILABLE ] || { echo "the build did not succeed" >&2; tail -50 "$log" >&2; exit 1; }

# wait_image ARN: print each new state (and the running step) until final.
wait_image() {
	local image=$1 status="" step="" now s
	for _ in $(seq 1200); do
		now=$(ib get-image --image-build-version-arn "$image" --query image.state.status --output text)
		[ "$now" != "$status" ] && printf '   %s  (%ss)\n' "$now" "$SECONDS" && status=$now
		case $now in AVAILABLE | FAILED | CANCELLED) break ;; esac
		sleep 0.5
	done
	[ "$status" = AVAILABLE ] || {
		ib get-image --image-build-version-arn "$image" --query image.state.reason --output text >&2
		tail -50 "$log" >&2
		exit 1
	}
}

echo "== goldsmith base build debian-12 (mmdebstrap from the host's apt mirrors, GRUB, cloud-init; about a minute)"
bin/goldsmith base build debian-12 --endpoint "$endpoint"
echo "== a VM image: two build components and a test component on the Debian 12 base"
vmc1=$(ib create-component --name vm-marker --semantic-version 1.0.0 --platform Linux \
	--data file://examples/components/vm-marker.yml --query componentBuildVersionArn --output text)
vmc2=$(ib create-component --name vm-note --semantic-version 1.0.0 --platform Linux \
	--data file://examples/components/vm-note.yml --query componentBuildVersionArn --output text)
vmc3=$(ib create-component --name vm-check --semantic-version 1.0.0 --platform Linux \
	--data file://examples/components/vm-check.yml --query componentBuildVersionArn --output text)
vmrecipe=$(ib create-image-recipe --name vm-demo --semantic-version 1.0.0 \
	--parent-image "arn:aws:imagebuilder:us-east-1:aws:image/debian-12-x86/x.x.x" \
	--components "componentArn=$vmc1" "componentArn=$vmc2" "componentArn=$vmc3" \
	--query imageRecipeArn --output text)
aws --endpoint-url "$s3url" s3 mb s3://exports >/dev/null
vmdist=$(ib create-distribution-configuration --name vm-demo --distributions \
	'[{"region":"us-east-1","amiDistributionConfiguration":{"name":"vm-demo-{{ imagebuilder:buildDate }}","amiTags":{"team":"demo"}},"s3ExportConfiguration":{"roleName":"local","diskImageFormat":"RAW","s3Bucket":"exports","s3Prefix":"raw"}},
	  {"region":"us-west-2","amiDistributionConfiguration":{"name":"vm-demo-{{ imagebuilder:buildDate }}"},"s3ExportConfiguration":{"roleName":"local","diskImageFormat":"VMDK","s3Bucket":"exports","s3Prefix":"vmdk"}}]' \
	--query distributionConfigurationArn --output text)
echo "== aws imagebuilder create-image (image recipe)"
vmimage=$(ib create-image --image-recipe-arn "$vmrecipe" --infrastructure-configuration-arn "$infra" \
	--distribution-configuration-arn "$vmdist" --query imageBuildVersionArn --output text)
echo "$vmimage"
SECONDS=0
wait_image "$vmimage"
ib get-image --image-build-version-arn "$vmimage" --query 'image.{state:state.status,osVersion:osVersion,amis:outputResources.amis}'
echo "== steps of the VM build"
for x in $(ib list-workflow-executions --image-build-version-arn "$vmimage" --query 'workflowExecutions[].workflowExecutionId' --output text); do
	ib list-workflow-step-executions --workflow-execution-id "$x" \
		--query 'steps[].{step:name,status:status,start:startTime,end:endTime}' --output table
done
exports=${GOLDSMITH_DEMO_EXPORTS:-$PWD/demo-exports}
mkdir -p "$exports"
aws --endpoint-url "$s3url" s3 cp --recursive s3://exports "$exports" >/dev/null
echo "== the exported disks (copied from s3://exports):"
ls -ls "$exports"/raw/* "$exports"/vmdk/*
echo "== demo finished"
