//! Folding a fresh read of some things into the facts of a whole cluster — one pod (the TUI's
//! `r`), a setup's own lookups: what the fresh read looked up replaces what was known of it,
//! including its absence, and nothing else changes.

use super::pod::Pod;
use super::{Facts, RepoKey};
use crate::iam::arn;
use std::collections::BTreeSet;

impl Facts {
    /// Replaces what is known of pod `namespace/name` and of everything its chain read with
    /// `fresh`, a read of that pod alone. A pod, role, repository… that the fresh read found gone
    /// is gone here too: a scope it answered or failed to answer drops what was known before.
    pub fn refresh_pod(&mut self, namespace: &str, name: &str, mut fresh: Facts) {
        // The pod keeps its place, so the findings keep their order.
        let this_pod = |p: &Pod| {
            p.metadata.namespace.as_deref().unwrap_or("default") == namespace
                && p.metadata.name.as_deref() == Some(name)
        };
        let place = self
            .pods
            .iter()
            .position(this_pod)
            .unwrap_or(self.pods.len());
        if place < self.pods.len() {
            self.pods.remove(place);
        }
        self.events
            .retain(|e| !(e.kind == "Pod" && e.namespace == namespace && e.name == name));
        let pods = std::mem::take(&mut fresh.pods);
        self.pods
            .splice(place..place, pods.into_iter().filter(this_pod));
        self.fold_in(fresh);
    }

    /// Folds a fresh read of some things (one pod's chain, a setup's own lookups) into these
    /// facts: what it looked up replaces what was known of it, including its absence.
    pub fn fold_in(&mut self, fresh: Facts) {
        let scopes: BTreeSet<&String> = fresh.covered.iter().chain(fresh.errors.keys()).collect();
        for scope in scopes {
            self.forget(scope);
        }
        self.forget_known_by(&fresh);

        let Facts {
            source: _,
            problems,
            pods,
            pods_listed,
            unreadable_pods,
            service_accounts,
            service_account_namespaces,
            nodes,
            events,
            workloads,
            aws_auth_roles,
            node_classes,
            caller,
            organization,
            token_pull_config,
            cluster,
            nodegroups,
            fargate_profiles,
            pod_identity,
            pod_identity_agent,
            access_entries,
            iam_accounts,
            roles,
            policies,
            oidc_provider_accounts,
            oidc_providers,
            repository_listings,
            repositories,
            images,
            manifests,
            image_failures,
            repository_policies,
            pull_through_rules,
            registry_policies,
            cache_rule_validations,
            secrets,
            secret_namespaces,
            ec2,
            trail,
            covered,
            errors,
        } = fresh;
        for problem in problems {
            if !self.problems.contains(&problem) {
                self.problems.push(problem);
            }
        }
        self.pods.extend(pods);
        self.pods_listed |= pods_listed;
        self.unreadable_pods.extend(unreadable_pods);
        self.service_accounts.extend(service_accounts);
        self.service_account_namespaces
            .extend(service_account_namespaces);
        self.nodes.extend(nodes);
        self.events.extend(events);
        for workload in workloads {
            self.workloads.retain(|w| {
                (&w.kind, &w.namespace, &w.name)
                    != (&workload.kind, &workload.namespace, &workload.name)
            });
            self.workloads.push(workload);
        }
        self.aws_auth_roles = aws_auth_roles.or(self.aws_auth_roles.take());
        self.node_classes.extend(node_classes);
        self.caller = caller.or(self.caller.take());
        self.organization = organization.or(self.organization.take());
        self.token_pull_config = token_pull_config.or(self.token_pull_config.take());
        self.cluster = cluster.or(self.cluster.take());
        self.nodegroups.extend(nodegroups);
        self.fargate_profiles.extend(fargate_profiles);
        self.pod_identity = pod_identity.or(self.pod_identity.take());
        self.pod_identity_agent = pod_identity_agent.or(self.pod_identity_agent.take());
        self.access_entries = access_entries.or(self.access_entries.take());
        self.iam_accounts.extend(iam_accounts);
        self.roles.extend(roles);
        self.policies.extend(policies);
        self.oidc_provider_accounts.extend(oidc_provider_accounts);
        self.oidc_providers.extend(oidc_providers);
        self.repository_listings.extend(repository_listings);
        self.repositories.extend(repositories);
        self.images.extend(images);
        // An image read again is what it is now: found, or not found.
        for key in manifests.keys() {
            self.image_failures.remove(key);
        }
        for key in image_failures.keys() {
            self.manifests.remove(key);
        }
        self.manifests.extend(manifests);
        self.image_failures.extend(image_failures);
        self.repository_policies.extend(repository_policies);
        self.pull_through_rules.extend(pull_through_rules);
        self.registry_policies.extend(registry_policies);
        self.cache_rule_validations.extend(cache_rule_validations);
        self.secrets.extend(secrets);
        self.ec2.merge(ec2);
        // A session looked up again is what CloudTrail holds now.
        for session in trail.reach.keys() {
            self.trail
                .events
                .retain(|e| e.username.as_deref() != Some(session.as_str()));
        }
        self.trail.reach.extend(trail.reach);
        self.trail.add(trail.events);
        self.secret_namespaces.extend(secret_namespaces);
        self.covered.extend(covered);
        self.errors.extend(errors);
    }

    /// Drops what is known under one lookup scope, and the scope's own answer.
    fn forget(&mut self, scope: &str) {
        self.covered.remove(scope);
        self.errors.remove(scope);
        let parts: Vec<&str> = scope.split('/').collect();
        let repo = |parts: &[&str]| RepoKey {
            registry: parts[1].to_string(),
            region: parts[2].to_string(),
            name: parts[3..].join("/"),
        };
        match parts.as_slice() {
            ["serviceaccounts", namespace] => {
                self.service_accounts.retain(|(ns, _), _| ns != namespace);
                self.service_account_namespaces.remove(*namespace);
            }
            ["role", account, name] => {
                self.roles.remove(&(account.to_string(), name.to_string()));
            }
            ["policy", ..] => {
                self.policies.remove(&scope["policy/".len()..]);
            }
            ["oidc-providers", account] => {
                self.oidc_provider_accounts.remove(*account);
                self.oidc_providers
                    .retain(|provider, _| arn::account_of(provider).as_deref() != Some(*account));
            }
            ["repositories", registry, region] => {
                let listing = (registry.to_string(), region.to_string());
                self.repository_listings.remove(&listing);
                self.repositories
                    .retain(|r| (&r.registry, &r.region) != (&listing.0, &listing.1));
            }
            ["images", _, _, _, ..] => {
                self.images.remove(&repo(&parts));
            }
            ["manifest", _, _, _, ..] => {
                // The last part is the tag or digest; the repository name may hold slashes.
                if let Some((id, path)) = parts.split_last() {
                    self.manifests.remove(&(repo(path), id.to_string()));
                }
            }
            ["repository-policy", _, _, _, ..] => {
                self.repository_policies.remove(&repo(&parts));
            }
            ["secrets", namespace] => {
                self.secrets.retain(|(ns, _), _| ns != namespace);
                self.secret_namespaces.remove(*namespace);
            }
            ["registry-policy", registry, region] => {
                self.registry_policies
                    .remove(&(registry.to_string(), region.to_string()));
            }
            ["organization"] => self.organization = None,
            ["pull-through-cache", registry] => {
                self.pull_through_rules.remove(*registry);
            }
            ["node", name] => {
                self.nodes.remove(*name);
            }
            ["nodegroup", name] => {
                self.nodegroups.remove(*name);
            }
            ["fargate-profile", name] => {
                self.fargate_profiles.remove(*name);
            }
            ["nodeclass", kind, name] => {
                self.node_classes.remove(&super::node_class(kind, name));
            }
            ["cluster"] => self.cluster = None,
            ["pod-identity-associations"] => self.pod_identity = None,
            ["daemonset", "kube-system", "eks-pod-identity-agent"] => {
                self.pod_identity_agent = None
            }
            ["access-entries"] => self.access_entries = None,
            ["aws-auth"] => self.aws_auth_roles = None,
            _ => {}
        }
    }

    /// A thing the fresh read found settles any earlier failure to look it up.
    fn forget_known_by(&mut self, fresh: &Facts) {
        let mut settled: Vec<String> = Vec::new();
        settled.extend(
            fresh
                .service_account_namespaces
                .iter()
                .map(|ns| super::scope::service_accounts(ns)),
        );
        settled.extend(
            fresh
                .secret_namespaces
                .iter()
                .map(|ns| super::scope::secrets(ns)),
        );
        settled.extend(
            fresh
                .roles
                .keys()
                .map(|(account, name)| super::scope::role(account, name)),
        );
        settled.extend(fresh.policies.keys().map(|arn| super::scope::policy(arn)));
        settled.extend(fresh.nodes.keys().map(|n| super::scope::node(n)));
        settled.extend(fresh.nodegroups.keys().map(|n| super::scope::nodegroup(n)));
        settled.extend(
            fresh
                .fargate_profiles
                .keys()
                .map(|n| super::scope::fargate_profile(n)),
        );
        settled.extend(
            fresh
                .node_classes
                .keys()
                .map(|key| format!("nodeclass/{key}")),
        );
        settled.extend(
            fresh
                .repository_listings
                .iter()
                .map(|(registry, region)| super::scope::repositories(registry, region)),
        );
        settled.extend(
            fresh
                .images
                .keys()
                .map(|r| super::scope::images(&r.registry, &r.region, &r.name)),
        );
        settled.extend(
            fresh
                .manifests
                .keys()
                .map(|(r, id)| super::scope::manifest(&r.registry, &r.region, &r.name, id)),
        );
        settled.extend(
            fresh
                .repository_policies
                .keys()
                .map(|r| super::scope::repository_policy(&r.registry, &r.region, &r.name)),
        );
        settled.extend(
            fresh
                .pull_through_rules
                .keys()
                .map(|r| super::scope::pull_through(r)),
        );
        settled.extend(
            fresh
                .registry_policies
                .keys()
                .map(|(r, g)| super::scope::registry_policy(r, g)),
        );
        settled.extend(
            fresh
                .oidc_provider_accounts
                .iter()
                .map(|a| super::scope::oidc_providers(a)),
        );
        if fresh.cluster.is_some() {
            settled.push(super::scope::CLUSTER.to_string());
        }
        if fresh.pod_identity.is_some() {
            settled.push(super::scope::POD_IDENTITY.to_string());
        }
        if fresh.pod_identity_agent.is_some() {
            settled.push(super::scope::POD_IDENTITY_AGENT.to_string());
        }
        if fresh.access_entries.is_some() {
            settled.push(super::scope::ACCESS_ENTRIES.to_string());
        }
        if fresh.aws_auth_roles.is_some() {
            settled.push(super::scope::AWS_AUTH.to_string());
        }
        for scope in settled {
            self.errors.remove(&scope);
        }
    }
}
