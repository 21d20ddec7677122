//! The Writer's EKS and ECR writes: the Pod Identity association, the repository policy or the
//! image's storage class as they are now, and the one call that changes them.

use super::apply::{Now, Writer, normal};
use super::write_plan::Write;
use crate::report::Apply;
use crate::source::live;
use aws_sdk_ecr::types::{ImageIdentifier, TargetStorageClass};

impl Writer {
    /// The Pod Identity association or the repository policy as it is.
    pub(super) async fn now_eks_ecr(&self, apply: &Apply) -> Result<Now, String> {
        let aws = &self.session.aws;
        let missing = |e: &live::aws::AwsError, codes: &[&str]| e.is(codes);
        Ok(match apply {
            Apply::CreatePodIdentityAssociation {
                cluster,
                namespace,
                service_account,
                ..
            } => {
                let request = aws
                    .eks
                    .list_pod_identity_associations()
                    .cluster_name(cluster)
                    .namespace(namespace)
                    .service_account(service_account);
                let out = aws
                    .call("eks:ListPodIdentityAssociations", cluster, request.send())
                    .await
                    .map_err(|e| e.message)?;
                Now::Present(!out.associations().is_empty())
            }
            Apply::SetRepositoryPolicy {
                registry,
                region,
                repository,
            } => {
                let ecr = aws.ecr(region);
                match aws
                    .call(
                        "ecr:GetRepositoryPolicy",
                        repository,
                        ecr.get_repository_policy()
                            .registry_id(registry)
                            .repository_name(repository)
                            .send(),
                    )
                    .await
                {
                    Ok(out) => Now::Document(out.policy_text().map(normal)),
                    Err(e) if missing(&e, &["RepositoryPolicyNotFoundException"]) => {
                        Now::Document(None)
                    }
                    Err(e) => return Err(e.message),
                }
            }
            Apply::RestoreImage {
                registry,
                region,
                repository,
                digest,
            } => {
                let image = ImageIdentifier::builder().image_digest(digest).build();
                let out = aws
                    .call(
                        "ecr:DescribeImages",
                        repository,
                        aws.ecr(region)
                            .describe_images()
                            .registry_id(registry)
                            .repository_name(repository)
                            .image_ids(image)
                            .send(),
                    )
                    .await
                    .map_err(|e| e.message)?;
                let archived = out
                    .image_details()
                    .iter()
                    .any(|d| d.image_status().map(|s| s.as_str()) == Some("ARCHIVED"));
                Now::Present(!archived)
            }
            other => return Err(format!("{} is not read here", other.call())),
        })
    }

    /// The one EKS or ECR call of the write.
    pub(super) async fn execute_eks_ecr(&self, write: &Write) -> Result<(), String> {
        let aws = &self.session.aws;
        let document = || Writer::document(write);
        let target = write.apply.target();
        let done = match &write.apply {
            Apply::CreatePodIdentityAssociation {
                cluster,
                namespace,
                service_account,
                role_arn,
            } => {
                let request = aws
                    .eks
                    .create_pod_identity_association()
                    .cluster_name(cluster)
                    .namespace(namespace)
                    .service_account(service_account)
                    .role_arn(role_arn);
                aws.call(write.apply.call(), &target, request.send())
                    .await
                    .map(|_| ())
            }
            Apply::SetRepositoryPolicy {
                registry,
                region,
                repository,
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    aws.ecr(region)
                        .set_repository_policy()
                        .registry_id(registry)
                        .repository_name(repository)
                        .policy_text(document()?)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::RestoreImage {
                registry,
                region,
                repository,
                digest,
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    aws.ecr(region)
                        .update_image_storage_class()
                        .registry_id(registry)
                        .repository_name(repository)
                        .image_id(ImageIdentifier::builder().image_digest(digest).build())
                        .target_storage_class(TargetStorageClass::Standard)
                        .send(),
                )
                .await
                .map(|_| ()),
            _ => return Err(format!("{} is not an EKS or ECR write", write.apply.call())),
        };
        done.map_err(|e| e.message)
    }
}
