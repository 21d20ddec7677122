//! Built-in copies of the AWS managed policies that decide image pulls, used when a policy is
//! attached but its document is not in the input. Evidence says when a copy was used.

use super::policy::PolicyDocument;
use serde_json::json;

pub const PULL_ONLY: &str = "AmazonEC2ContainerRegistryPullOnly";
pub const READ_ONLY: &str = "AmazonEC2ContainerRegistryReadOnly";

/// The document of an AWS managed policy, by ARN, if pulldoctor carries a copy.
pub fn builtin(policy_arn: &str) -> Option<PolicyDocument> {
    let name = policy_arn.rsplit('/').next()?;
    if !policy_arn.contains(":iam::aws:policy/") {
        return None;
    }
    let ecr = |actions: &[&str]| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    let value = match name {
        PULL_ONLY => ecr(&[
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchImportUpstreamImage",
        ]),
        READ_ONLY => ecr(&[
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
            "ecr:GetRepositoryPolicy",
            "ecr:DescribeRepositories",
            "ecr:ListImages",
            "ecr:DescribeImages",
            "ecr:BatchGetImage",
            "ecr:GetLifecyclePolicy",
            "ecr:GetLifecyclePolicyPreview",
            "ecr:ListTagsForResource",
            "ecr:DescribeImageScanFindings",
        ]),
        "AmazonEC2ContainerRegistryPowerUser" => ecr(&[
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
            "ecr:GetRepositoryPolicy",
            "ecr:DescribeRepositories",
            "ecr:ListImages",
            "ecr:DescribeImages",
            "ecr:BatchGetImage",
            "ecr:GetLifecyclePolicy",
            "ecr:GetLifecyclePolicyPreview",
            "ecr:ListTagsForResource",
            "ecr:DescribeImageScanFindings",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
        ]),
        "AmazonEC2ContainerRegistryFullAccess" => ecr(&["ecr:*"]),
        "AmazonEKSFargatePodExecutionRolePolicy" => ecr(&[
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetImage",
        ]),
        "AdministratorAccess" => {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        }
        // Policies known to grant no ECR pull action: an empty allow list says so honestly.
        "AmazonEKSWorkerNodePolicy"
        | "AmazonEKS_CNI_Policy"
        | "AmazonSSMManagedInstanceCore"
        | "AmazonEKSWorkerNodeMinimalPolicy" => json!({"Version": "2012-10-17", "Statement": []}),
        _ => return None,
    };
    PolicyDocument::from_value(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_pull_policies_and_only_aws_owned_ones() {
        assert!(builtin("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly").is_some());
        assert!(builtin("arn:aws-cn:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly").is_some());
        assert!(
            builtin("arn:aws:iam::111122223333:policy/AmazonEC2ContainerRegistryReadOnly")
                .is_none()
        );
        assert!(builtin("arn:aws:iam::aws:policy/SomethingElse").is_none());
    }
}
