#!/usr/bin/env bash
# The runbook an on-call engineer follows by hand for one pod that cannot pull its image from ECR
# (the AWS knowledge-center steps for ImagePullBackOff / ErrImagePull from ECR on EKS), as the
# plain kubectl and aws commands they would type: describe the pod, get its ServiceAccount, get
# the role, its attached and inline policies and their versions, describe the node group and its
# role, describe the repository and the image, get the repository policy. Timed by the runbook
# bench; its output is what the engineer would read.
# Usage: runbook.sh CLUSTER NAMESPACE POD
set -u
cluster="$1" ns="$2" pod="$3"
jp() { kubectl get "$@" 2>/dev/null; }

# 1. The pod, its events, and what it points at.
kubectl describe pod -n "$ns" "$pod"
image="$(jp pod -n "$ns" "$pod" -o jsonpath='{.spec.containers[0].image}')"
sa="$(jp pod -n "$ns" "$pod" -o jsonpath='{.spec.serviceAccountName}')"
node="$(jp pod -n "$ns" "$pod" -o jsonpath='{.spec.nodeName}')"

# 2. The ServiceAccount and its IRSA role: the role, its trust policy, its permissions.
kubectl get serviceaccount -n "$ns" "${sa:-default}" -o yaml
app_role="$(jp serviceaccount -n "$ns" "${sa:-default}" -o jsonpath='{.metadata.annotations.eks\.amazonaws\.com/role-arn}')"

role_policies() { # the role, then every attached policy's default version and every inline policy
  local role="$1" arn version name
  aws iam get-role --role-name "$role"
  for arn in $(aws iam list-attached-role-policies --role-name "$role" --query 'AttachedPolicies[].PolicyArn' --output text); do
    version="$(aws iam get-policy --policy-arn "$arn" --query Policy.DefaultVersionId --output text)"
    aws iam get-policy-version --policy-arn "$arn" --version-id "$version"
  done
  for name in $(aws iam list-role-policies --role-name "$role" --query 'PolicyNames[]' --output text); do
    aws iam get-role-policy --role-name "$role" --policy-name "$name"
  done
}
[ -n "$app_role" ] && role_policies "${app_role##*/}"

# 3. The node's group and the node role that really pulls the image.
nodegroup="$(jp node "$node" -o jsonpath='{.metadata.labels.eks\.amazonaws\.com/nodegroup}')"
node_role="$(aws eks describe-nodegroup --cluster-name "$cluster" --nodegroup-name "$nodegroup" --query nodegroup.nodeRole --output text)"
role_policies "${node_role##*/}"

# 4. The repository, the image, and the repository policy.
host="${image%%/*}" rest="${image#*/}"
account="${host%%.*}" region="$(echo "$host" | cut -d. -f4)"
repo="${rest%%[:@]*}" tag="${rest##*:}"
aws ecr describe-repositories --registry-id "$account" --region "$region" --repository-names "$repo"
aws ecr describe-images --registry-id "$account" --region "$region" --repository-name "$repo" --image-ids "imageTag=$tag"
aws ecr get-repository-policy --registry-id "$account" --region "$region" --repository-name "$repo"
