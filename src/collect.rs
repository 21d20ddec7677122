//! `pulldoctor collect-script`: plain kubectl / aws commands that write a bundle directory by
//! hand, for clusters pulldoctor cannot reach itself.

pub fn script() -> String {
    SCRIPT.replace(
        "ADDON_REGISTRIES",
        &crate::ecr::reference::AWS_EKS_REGISTRIES.join("|"),
    )
}

const SCRIPT: &str = r#"#!/usr/bin/env bash
# Writes a pulldoctor bundle: every file is plain kubectl / aws CLI JSON output.
# Usage: bash collect.sh CLUSTER_NAME [OUT_DIR] [REGION]    then: pulldoctor diagnose --from OUT_DIR
# Read-only: it only runs get / describe / list commands. Secrets are never read.
set -u
# No pathname expansion: the lists looped over are AWS's and tenants' answers, and a `*` in one
# must stay a `*`, never become this directory's file names.
set -f
CLUSTER="${1:?usage: collect.sh CLUSTER_NAME [OUT_DIR] [REGION]}"
OUT="${2:-pulldoctor-bundle}"
mkdir -p "$OUT"
# The cluster's Region: the third argument, else the current context's EKS endpoint
# (https://….REGION.eks.amazonaws.com), else whatever the AWS configuration says.
REGION="${3:-}"
if [ -z "$REGION" ]; then
  server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}' 2>/dev/null)"
  REGION="$(printf '%s' "$server" | sed -n 's|^https://[^/]*\.\([a-z0-9-]*\)\.eks\.amazonaws\.com.*$|\1|p')"
fi
if [ -n "$REGION" ]; then
  export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
else
  echo "collect: no Region found in the kube context: the AWS configuration's is used (or pass it: collect.sh CLUSTER OUT_DIR REGION)" >&2
fi
# Each registry-level or repository-level lookup once, even when it failed.
SEEN="$(mktemp -d)"; trap 'rm -rf "$SEEN"' EXIT
once() { [ -e "$SEEN/$1" ] && return 1; : > "$SEEN/$1"; }
# JSON whatever the profile's `output` says (commands that ask for text still get text).
export AWS_DEFAULT_OUTPUT=json
reason() { head -c 300 "$1" | tr '\n\r' '  '; }
# A line for the terminal: names come from tenants and AWS echoes them, so control characters
# (an escape sequence in an image reference) are dropped, never sent raw.
say() { printf '%s\n' "$*" | tr -d '\000-\011\013-\037\177' >&2; }
save() { # save FILE COMMAND...: keep the output only when the command succeeds
  local file="$OUT/$1"; shift
  if "$@" > "$file.tmp" 2> "$file.err"; then mv "$file.tmp" "$file"; rm -f "$file.err"
  else WHY="$(reason "$file.err")"; say "collect: $* failed: $WHY"; rm -f "$file.tmp" "$file.err"; fi
}
json() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
failed() { # failed FILE SCOPE ACTION TARGET: record in the bundle why a lookup went unanswered, so
  # pulldoctor says "refused" or "throttled" (as live), not only "not read"; a repository that
  # does not exist is told by the repository listing, not by its images, manifest or policy
  case "$WHY" in *"(RepositoryNotFoundException)"*) return 0 ;; esac
  printf '{"pulldoctorLookup": {"scope": %s, "action": %s, "target": %s, "cliError": %s}}\n' \
    "$(json "$2")" "$(json "$3")" "$(json "$4")" "$(json "$WHY")" > "$OUT/${1%.json}-failed.json"
}
ask() { # ask SCOPE ACTION TARGET FILE COMMAND...: save, recording a failure with its reason
  local scope="$1" action="$2" target="$3" file="$4"; shift 4
  save "$file" "$@"
  [ -f "$OUT/$file" ] || failed "$file" "$scope" "$action" "$target"
}
asked() { # asked FILE NAME VALUE...: record beside an answer what was asked — an empty answer
  # ({"imageDetails": []}) says nothing of its repository, registry or Region by itself
  local file="$OUT/$1" fields=""; shift
  [ -f "$file" ] || return 0
  while [ $# -ge 2 ]; do
    case "$2" in ""|*[!A-Za-z0-9._/-]*) return 0 ;; esac
    fields="$fields\"$1\": \"$2\", "; shift 2
  done
  sed -i.bak "1s|^{|{$fields|" "$file" && rm -f "$file.bak"
}
# A file name for a value: readable, and told apart by a checksum (shop/web is not shop_web).
# The string values of a field in a saved answer (the CLI writes `"Name": "value"`), each once;
# nothing when the answer was not saved — a list is asked for once, its items read from the file.
values() { [ -f "$OUT/$1" ] && grep -o "\"$2\": \"[^\"]*\"" "$OUT/$1" | cut -d'"' -f4 | sort -u; }
safe() { printf '%s-%s' "$(printf '%s' "$1" | tr -c 'A-Za-z0-9.-' '_')" "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"; }
save_kind() { # save_kind KIND [ARGS...]: one kind a file, so a kind RBAC refuses costs only itself;
  # an empty list is kept for pods alone (an empty List says "no pods"; of another kind, nothing)
  local kind="$1"; shift
  save "kube-$kind.json" kubectl get "$kind" "$@" -o json
  if [ "$kind" != pods ] && [ -f "$OUT/kube-$kind.json" ] && grep -q '"items": \[\]' "$OUT/kube-$kind.json"; then
    rm -f "$OUT/kube-$kind.json"
  fi
}

# Kubernetes: the pods first; without them nothing can be said
save_kind pods -A
[ -f "$OUT/kube-pods.json" ] || echo "collect: the pods could not be listed: the bundle cannot say which pods fail" >&2
# What the AWS part needs of each pod, read from the saved list (the pod list is read once): its
# images, and its node and IP (Fargate). kubectl prints JSON four spaces a level, keys sorted, so
# a pod's own fields are known by their indentation, never by what tenant text says.
touch "$SEEN/pod-lines"
[ -f "$OUT/kube-pods.json" ] && awk '
  function value(v) { v = $0; sub(/^[^:]*: "/, "", v); sub(/",?$/, "", v); return v }
  /^        [{]/ { node = ""; ip = ""; section = "" }
  /^        [{]/ { namespace = ""; account = "default"; restarts = 0; fargate = 0; failing = "" }
  /^            "/ { section = /^            "metadata": [{]/ ? "metadata" : /^            "spec": [{]/ ? "spec" : /^            "status": [{]/ ? "status" : "" }
  section == "metadata" && /^                "namespace": "/ { namespace = value() }
  section == "metadata" && /^                    "eks\.amazonaws\.com\/fargate-profile": "/ { fargate = 1 }
  section == "spec" && /^                        "image": "/ { print "image " value() }
  section == "spec" && /^                "nodeName": "/ { node = value(); if (node ~ /^fargate-/) fargate = 1 }
  section == "spec" && /^                "serviceAccountName": "/ { account = value() }
  section == "status" && /^                "podIP": "/ { ip = value() }
  section == "status" && /^                        "restartCount": [1-9]/ { restarts = 1 }
  section == "status" && /^                                "reason": "CrashLoopBackOff"/ { restarts = 1 }
  section == "status" && /^                        "image": "/ { status_image = value() }
  section == "status" && /^                                "reason": "(ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull|ImageInspectError|RegistryUnavailable)"/ {
    if (status_image ~ /\.dkr[.-]ecr/) failing = failing " " status_image
  }
  /^        [}]/ {
    print "pod " node " " ip
    if (restarts) print "restarting " namespace " " account
    n = split(failing, images, " ")
    for (i = 1; i <= n; i++) print "failing " namespace " " account " " fargate " " images[i] " " node
  }
' "$OUT/kube-pods.json" > "$SEEN/pod-lines"
for kind in serviceaccounts nodes events replicasets daemonsets statefulsets jobs; do
  case "$kind" in
    nodes) save_kind "$kind" ;;
    # A ServiceAccount's managed fields date its role annotation (which came first, it or a pod).
    serviceaccounts) save_kind "$kind" -A --show-managed-fields ;;
    *) save_kind "$kind" -A ;;
  esac
done
save aws-auth.json kubectl -n kube-system get configmap aws-auth -o json
save_kind ec2nodeclasses.karpenter.k8s.aws
save_kind nodeclasses.eks.amazonaws.com

# EKS
save caller.json aws sts get-caller-identity
ask cluster eks:DescribeCluster "$CLUSTER" cluster.json aws eks describe-cluster --name "$CLUSTER"
for ng in $(aws eks list-nodegroups --cluster-name "$CLUSTER" --query 'nodegroups[]' --output text); do
  ask "nodegroup/$ng" eks:DescribeNodegroup "$ng" "nodegroup-$(safe "$ng").json" aws eks describe-nodegroup --cluster-name "$CLUSTER" --nodegroup-name "$ng"
done
for fp in $(aws eks list-fargate-profiles --cluster-name "$CLUSTER" --query 'fargateProfileNames[]' --output text); do
  ask "fargate-profile/$fp" eks:DescribeFargateProfile "$fp" "fargate-$(safe "$fp").json" aws eks describe-fargate-profile --cluster-name "$CLUSTER" --fargate-profile-name "$fp"
done
ask pod-identity-associations eks:ListPodIdentityAssociations "$CLUSTER" pod-identity-associations.json aws eks list-pod-identity-associations --cluster-name "$CLUSTER"
for id in $(values pod-identity-associations.json associationId); do
  save "pod-identity-$(safe "$id").json" aws eks describe-pod-identity-association --cluster-name "$CLUSTER" --association-id "$id"
done
# Associations give credentials only through the Pod Identity Agent's DaemonSet: asked for by
# name, so that one not found is recorded as absent (the DaemonSet list holds it when it is there).
if [ -n "$(values pod-identity-associations.json associationId)" ]; then
  if kubectl -n kube-system get daemonset eks-pod-identity-agent -o json > "$OUT/agent.tmp" 2> "$OUT/agent.err"; then
    [ -f "$OUT/kube-daemonsets.json" ] || mv "$OUT/agent.tmp" "$OUT/kube-pod-identity-agent.json"
  elif grep -q NotFound "$OUT/agent.err"; then
    printf '{"pulldoctorLookup": {"scope": "%s", "covered": true}}\n' daemonset/kube-system/eks-pod-identity-agent > "$OUT/pod-identity-agent-absent.json"
  else
    WHY="$(reason "$OUT/agent.err")"; say "collect: get daemonset eks-pod-identity-agent failed: $WHY"
    failed pod-identity-agent.json daemonset/kube-system/eks-pod-identity-agent "get daemonsets" kube-system/eks-pod-identity-agent
  fi
  rm -f "$OUT/agent.tmp" "$OUT/agent.err"
fi
ask access-entries eks:ListAccessEntries "$CLUSTER" access-entries.json aws eks list-access-entries --cluster-name "$CLUSTER"
for arn in $( [ -f "$OUT/access-entries.json" ] && grep -o '"arn:aws[^"]*"' "$OUT/access-entries.json" | tr -d '"'); do
  save "access-entry-$(safe "$arn").json" aws eks describe-access-entry --cluster-name "$CLUSTER" --principal-arn "$arn"
done

# EC2: the pods' network path — the nodes' instances and the Fargate pods' own interfaces, then
# each VPC whole (subnets, route tables, endpoints, NAT gateways, security groups, network ACLs,
# DNS attributes); a VPC whose lists were all saved is recorded as read.
vpcs=""
ids="$( [ -f "$OUT/kube-nodes.json" ] && sed -n 's|^                "providerID": "aws://[^"]*/\(i-[^"/]*\)",*$|\1|p' "$OUT/kube-nodes.json" | sort -u | tr '\n' ' ')"
if [ -n "$ids" ]; then
  # shellcheck disable=SC2086
  save ec2-instances.json aws ec2 describe-instances --instance-ids $ids
  # shellcheck disable=SC2086
  vpcs="$(values ec2-instances.json VpcId)"
fi
ips="$(awk '$1 == "pod" && $2 ~ /^fargate-/ && $3 != "" {print $3}' "$SEEN/pod-lines" | sort -u | paste -sd, -)"
if [ -n "$ips" ]; then
  save ec2-fargate-interfaces.json aws ec2 describe-network-interfaces --filters "Name=addresses.private-ip-address,Values=$ips"
  vpcs="$vpcs $(values ec2-fargate-interfaces.json VpcId)"
fi
for vpc in $(printf '%s\n' $vpcs | sort -u); do
  save "ec2-subnets-$vpc.json" aws ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc"
  save "ec2-route-tables-$vpc.json" aws ec2 describe-route-tables --filters "Name=vpc-id,Values=$vpc"
  save "ec2-vpc-endpoints-$vpc.json" aws ec2 describe-vpc-endpoints --filters "Name=vpc-id,Values=$vpc"
  save "ec2-nat-gateways-$vpc.json" aws ec2 describe-nat-gateways --filter "Name=vpc-id,Values=$vpc"
  save "ec2-security-groups-$vpc.json" aws ec2 describe-security-groups --filters "Name=vpc-id,Values=$vpc"
  save "ec2-network-acls-$vpc.json" aws ec2 describe-network-acls --filters "Name=vpc-id,Values=$vpc"
  save "ec2-dns-support-$vpc.json" aws ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsSupport
  save "ec2-dns-hostnames-$vpc.json" aws ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsHostnames
  if [ -f "$OUT/ec2-subnets-$vpc.json" ] && [ -f "$OUT/ec2-route-tables-$vpc.json" ] && [ -f "$OUT/ec2-vpc-endpoints-$vpc.json" ] && [ -f "$OUT/ec2-nat-gateways-$vpc.json" ]; then
    printf '{"pulldoctorLookup": {"scope": "ec2-vpc/%s", "covered": true}}\n' "$vpc" > "$OUT/ec2-vpc-$vpc-read.json"
  fi
done

# CloudTrail, one page of a lookup at LookupEvents' two requests a second: KEY ATTRIBUTE FILE
# [--region R]. A full page says how far back it reached.
trail() {
  local key="$1" attribute="$2" file="$3" reached=""; shift 3
  ask "cloudtrail/$key" cloudtrail:LookupEvents "${attribute##*=}" "$file" aws cloudtrail lookup-events --lookup-attributes "$attribute" --max-results 50 --no-paginate "$@"
  if [ -f "$OUT/$file" ]; then
    grep -q '"NextToken"' "$OUT/$file" && reached="$(grep -o '"EventTime": [^,}]*' "$OUT/$file" | sed 's/.*: //; s/"//g' | sort | head -n 1)"
    printf '{"pulldoctorLookup": {"scope": "cloudtrail/%s", "covered": true%s}}\n' "$key" "${reached:+, \"reachedBack\": \"$reached\"}" > "$OUT/${file%.json}-read.json"
  fi
  sleep 0.5
}

# The organization settles aws:PrincipalOrgID conditions; an account in none is recorded as such.
if ! aws organizations describe-organization > "$OUT/organization.json" 2> "$OUT/organization.err"; then
  if grep -q AWSOrganizationsNotInUseException "$OUT/organization.err"; then
    echo '{"Organization": null}' > "$OUT/organization.json"
  else
    WHY="$(reason "$OUT/organization.err")"; say "collect: describe-organization failed: $WHY"; rm -f "$OUT/organization.json"
    failed organization.json organization organizations:DescribeOrganization "the account"
  fi
fi
rm -f "$OUT/organization.err"

# IAM
save iam.json aws iam get-account-authorization-details --filter Role LocalManagedPolicy AWSManagedPolicy
me="$(values caller.json Account)"
ask "oidc-providers/$me" iam:ListOpenIDConnectProviders "the account" oidc-providers.json aws iam list-open-id-connect-providers
for arn in $(values oidc-providers.json Arn); do
  save "oidc-provider-$(safe "$arn").json" aws iam get-open-id-connect-provider --open-id-connect-provider-arn "$arn"
done

# The token exchanges of each restarting pod's ServiceAccount whose IRSA role is this account's
# (CloudTrail records them under the token's subject, in the account of the role).
[ -f "$OUT/kube-serviceaccounts.json" ] && awk '
  function value(v) { v = $0; sub(/^[^:]*: "/, "", v); sub(/",?$/, "", v); return v }
  /^        [{]/ { namespace = ""; name = ""; role = "-"; pull = "-" }
  /^            "/ { section = /^            "metadata": [{]/ ? "metadata" : "" }
  section == "metadata" && /^                "namespace": "/ { namespace = value() }
  section == "metadata" && /^                "name": "/ { name = value() }
  section == "metadata" && /^                    "eks\.amazonaws\.com\/role-arn": "/ { role = value() }
  section == "metadata" && /^                    "eks\.amazonaws\.com\/ecr-role-arn": "/ { pull = value() }
  /^        [}]/ { print namespace " " name " " role " " pull }
' "$OUT/kube-serviceaccounts.json" > "$SEEN/irsa-lines"
annotated() { # NAMESPACE NAME FIELD: the ServiceAccount's role (3) or ecr-role-arn role (4), if ours
  awk -v ns="$1" -v sa="$2" -v f="$3" '$1 == ns && $2 == sa {print $f}' "$SEEN/irsa-lines" 2> /dev/null |
    grep "^arn:aws[a-z-]*:iam::$me:role/"
}
region_of() { # an ECR image's Region: ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com or ACCOUNT.dkr-ecr[-fips].REGION.on.aws
  local host="${1%%/*}"
  case "$host" in *.dkr-ecr.*|*.dkr-ecr-fips.*) echo "$host" | cut -d. -f3 ;; *) echo "$host" | cut -d. -f4 ;; esac
}
exchange() { # NAMESPACE NAME [--region R]: the ServiceAccount token's exchanges, once
  local who="system:serviceaccount:$1:$2"; shift 2
  once "trail-$(safe "$who")" && trail "$who" "AttributeKey=Username,AttributeValue=$who" "cloudtrail-$(safe "$who").json" "$@"
}
# Each node's instance, by name (metadata first, then spec: kubectl sorts keys).
touch "$SEEN/node-ids"
[ -f "$OUT/kube-nodes.json" ] && awk '
  function value(v) { v = $0; sub(/^[^:]*: "/, "", v); sub(/",?$/, "", v); return v }
  /^        [{]/ { name = ""; section = "" }
  /^            "/ { section = /^            "metadata": [{]/ ? "metadata" : /^            "spec": [{]/ ? "spec" : "" }
  section == "metadata" && /^                "name": "/ { name = value() }
  section == "spec" && /^                "providerID": "aws:\/\/.*\/i-[^"\/]*",?$/ { id = value(); sub(/.*\//, "", id); print name " " id }
' "$OUT/kube-nodes.json" > "$SEEN/node-ids"
# A pod that cannot pull: with an ecr-role-arn role of ours, its token's exchanges (in the
# registry's Region, where the node's credential provider asks STS); on Fargate or with such a
# role, its repository's own events (the pull identity's session names are not known ahead).
sed -n 's/^failing //p' "$SEEN/pod-lines" | sort -u |
while read -r namespace account fargate image node; do
  region="$(region_of "$image")"
  # The node role's session (named after its instance), in the registry's Region where ECR
  # records the refusal; once per node.
  id="$(awk -v n="$node" '$1 == n {print $2}' "$SEEN/node-ids")"
  [ "$fargate" = 0 ] && [ -n "$id" ] && once "trail-$id" && trail "$id" "AttributeKey=Username,AttributeValue=$id" "cloudtrail-$id.json" --region "$region"
  token="$([ -f "$SEEN/irsa-lines" ] && annotated "$namespace" "$account" 4)"
  [ -n "$token" ] && exchange "$namespace" "$account" --region "$region"
  if [ "$fargate" = 1 ] || [ -n "$token" ]; then
    rest="${image#*/}"; repo="${rest%%@*}"; repo="${repo%%:*}"
    case "$region" in cn-*) partition=aws-cn ;; us-gov-*) partition=aws-us-gov ;; *) partition=aws ;; esac
    arn="arn:$partition:ecr:$region:${image%%.*}:repository/$repo"
    once "trail-$(safe "$arn")" && trail "resource/$arn" "AttributeKey=ResourceName,AttributeValue=$arn" "cloudtrail-$(safe "$arn").json" --region "$region"
  fi
done
# A restarting pod with an IRSA role of ours: the app's exchanges, in the cluster's Region.
sed -n 's/^restarting //p' "$SEEN/pod-lines" | sort -u |
while read -r namespace account; do
  [ -f "$SEEN/irsa-lines" ] && [ -n "$(annotated "$namespace" "$account" 3)" ] && exchange "$namespace" "$account"
done

# ECR: every private registry, repository and image the pods point at
manifest() { # the image's manifest (index or single), with what was asked beside it
  ask "manifest/$account/$region/$repo/${id#*=}" ecr:BatchGetImage "$repo" "manifest-$tag-$(safe "$id").json" aws ecr batch-get-image --registry-id "$account" --region "$region" --repository-name "$repo" --image-ids "$id" \
    --accepted-media-types application/vnd.oci.image.index.v1+json application/vnd.docker.distribution.manifest.list.v2+json application/vnd.oci.image.manifest.v1+json application/vnd.docker.distribution.manifest.v2+json
  asked "manifest-$tag-$(safe "$id").json" registryId "$account" repositoryName "$repo" region "$region"
}
well_formed() { # whether the runtime would take the image ($repo, $rest): lowercase, a whole digest
  case "$repo" in *[A-Z]*) return 1 ;; esac
  case "$rest" in *@*) printf '%s' "${rest#*@}" | grep -qxE 'sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}' ;; esac
}
listed() { # whether the image ($rest) is among the repository's: by digest, or by a tag line
  local file="$OUT/images-$tag.json" ref="${rest%%@*}" t=""
  case "$rest" in *@*) grep -qF "\"imageDigest\": \"${rest#*@}\"" "$file" && return 0 ;; esac
  case "${ref##*/}" in *:*) t="${ref##*:}" ;; *) [ "$rest" = "$ref" ] && t=latest ;; esac
  [ -n "$t" ] && sed 's/^ *//; s/,$//' "$file" | grep -qxF "\"$t\""
}
sed -n 's/^image //p' "$SEEN/pod-lines" | sort -u |
while read -r image; do
  host="${image%%/*}"
  case "$host" in *.dkr.ecr.*|*.dkr-ecr.*|*.dkr.ecr-fips.*|*.dkr-ecr-fips.*) ;; *) continue ;; esac
  # ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com, or dual-stack ACCOUNT.dkr-ecr[-fips].REGION.on.aws
  account="${host%%.*}"
  region="$(region_of "$image")"
  rest="${image#*/}"; repo="${rest%%@*}"; repo="${repo%%:*}"
  case "$rest" in *@*) id="imageDigest=${rest#*@}" ;; *:*) id="imageTag=${rest##*:}" ;; *) id="imageTag=latest" ;; esac
  tag="$(safe "$account-$region-$repo")"
  # AWS's EKS add-on registries answer every account's batch-get-image and refuse the rest.
  case "$account" in
    ADDON_REGISTRIES)
      manifest
      continue ;;
  esac
  if once "repositories-$account-$region"; then
    ask "repositories/$account/$region" ecr:DescribeRepositories "registry $account in $region" "repositories-$account-$region.json" aws ecr describe-repositories --registry-id "$account" --region "$region"
    asked "repositories-$account-$region.json" registryId "$account" region "$region"
  fi
  if once "ptc-$account-$region"; then
    ask "pull-through-cache/$account" ecr:DescribePullThroughCacheRules "$account" "ptc-$account-$region.json" aws ecr describe-pull-through-cache-rules --registry-id "$account" --region "$region"
    # ECR's own check that each rule can use its upstream (it reads the credential; we never do).
    if [ "$account" = "$me" ]; then
      for prefix in $(values "ptc-$account-$region.json" ecrRepositoryPrefix); do
        save "ptc-validate-$region-$(safe "$prefix").json" aws ecr validate-pull-through-cache-rule --registry-id "$account" --region "$region" --ecr-repository-prefix "$prefix"
      done
    fi
  fi
  # The registry policy (one's own registry only) can grant a pull-through cache's create and
  # import; a registry without one is a fact, not a gap.
  if [ "$account" = "$me" ] && once "registry-policy-$region"; then
    if aws ecr get-registry-policy --region "$region" > "$OUT/registry-policy-$region.json" 2> "$OUT/registry-policy-$region.err"; then
      asked "registry-policy-$region.json" region "$region"
    else
      if grep -q RegistryPolicyNotFoundException "$OUT/registry-policy-$region.err"; then
        printf '{"registryId": "%s", "policyText": null, "region": "%s"}\n' "$account" "$region" > "$OUT/registry-policy-$region.json"
      else
        WHY="$(reason "$OUT/registry-policy-$region.err")"; say "collect: get-registry-policy in $region failed: $WHY"; rm -f "$OUT/registry-policy-$region.json"
        failed "registry-policy-$region.json" "registry-policy/$account/$region" ecr:GetRegistryPolicy "$account"
      fi
    fi
    rm -f "$OUT/registry-policy-$region.err"
  fi
  if once "images-$tag"; then
    ask "images/$account/$region/$repo" ecr:DescribeImages "$repo" "images-$tag.json" aws ecr describe-images --registry-id "$account" --region "$region" --repository-name "$repo"
    asked "images-$tag.json" registryId "$account" repositoryName "$repo" region "$region"
  fi
  # Why an image of one's own registry is gone: where the repository's images were read and it
  # is not among them, the Region's lifecycle expiries, deletions and pushes.
  if [ "$account" = "$me" ] && [ -f "$OUT/images-$tag.json" ] && well_formed && ! listed && once "trail-$region"; then
    for name in PolicyExecutionEvent BatchDeleteImage PutImage; do
      trail "event/$region/$name" "AttributeKey=EventName,AttributeValue=$name" "cloudtrail-$region-$name.json" --region "$region"
    done
  fi
  manifest
  if once "policy-$tag"; then
    if ! aws ecr get-repository-policy --registry-id "$account" --region "$region" --repository-name "$repo" > "$OUT/policy-$tag.json" 2> "$OUT/policy-$tag.err"; then
      if grep -q RepositoryPolicyNotFoundException "$OUT/policy-$tag.err"; then
        # No policy is a fact (absent), not a gap: record it as pulldoctor reads it.
        printf '{"registryId": "%s", "repositoryName": "%s", "policyText": null, "region": "%s"}\n' "$account" "$repo" "$region" > "$OUT/policy-$tag.json"
      else
        WHY="$(reason "$OUT/policy-$tag.err")"; say "collect: get-repository-policy $repo failed: $WHY"; rm -f "$OUT/policy-$tag.json"
        failed "policy-$tag.json" "repository-policy/$account/$region/$repo" ecr:GetRepositoryPolicy "$repo"
      fi
    fi
    rm -f "$OUT/policy-$tag.err"
  fi
done
if [ ! -f "$OUT/kube-pods.json" ]; then
  say "collect: FAILED: the pods could not be listed, so the bundle in $OUT cannot say which pods fail"
  exit 1
fi
echo "bundle written to $OUT — run: pulldoctor diagnose --from $OUT" >&2
"#;
