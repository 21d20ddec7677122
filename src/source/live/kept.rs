//! What of a Kubernetes object a read keeps: what the diagnosis reads, not what a tenant put
//! there for its application. A read's documents leave the process — `pulldoctor snapshot`, the
//! agent's `/snapshot` — so a container's environment values, command and arguments (where
//! passwords and tokens are passed) and the copy of the whole object that `kubectl apply` keeps
//! (`last-applied-configuration`) are dropped as the object is read. `managedFields` stay: they
//! name fields, never values, and date a ServiceAccount's role annotation.

use serde_json::Value;

/// The injected variables the app-identity lane reads (IRSA's and Pod Identity's): their values
/// are kept, every other variable keeps its name only.
const READ_PREFIX: &str = "AWS_";

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `object` without what the diagnosis never reads.
pub(super) fn for_diagnosis(mut object: Value) -> Value {
    if let Some(annotations) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED);
    }
    if let Some(spec) = pod_spec(&mut object) {
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            let containers = spec.get_mut(list).and_then(Value::as_array_mut);
            containers.into_iter().flatten().for_each(container);
        }
    }
    object
}

/// The pod spec an object holds: a pod's own, a workload's template, a CronJob's job template.
fn pod_spec(object: &mut Value) -> Option<&mut Value> {
    let path: &[&str] = match object.get("kind").and_then(Value::as_str)? {
        "Pod" => &["spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &["spec", "template", "spec"]
        }
        _ => return None,
    };
    path.iter().try_fold(object, |v, key| v.get_mut(*key))
}

fn container(container: &mut Value) {
    let Some(container) = container.as_object_mut() else {
        return;
    };
    container.remove("command");
    container.remove("args");
    let variables = container.get_mut("env").and_then(Value::as_array_mut);
    for variable in variables.into_iter().flatten() {
        let read = variable
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|name| name.starts_with(READ_PREFIX));
        if !read && let Some(variable) = variable.as_object_mut() {
            variable.remove("value");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: Value) -> Value {
        json!({
            "kind": "Pod",
            "metadata": {
                "name": "web",
                "annotations": {LAST_APPLIED: "{\"env\":\"hunter2\"}", "team": "shop"},
                "managedFields": [{"manager": "kubectl"}],
            },
            "spec": spec,
        })
    }

    #[test]
    fn a_pod_keeps_the_injected_variables_and_loses_its_own_values_command_and_arguments() {
        let kept = for_diagnosis(pod(json!({
            "initContainers": [{"name": "init", "args": ["--token=hunter2"]}],
            "containers": [{
                "name": "app",
                "image": "web:1",
                "command": ["run", "--password", "hunter2"],
                "env": [
                    {"name": "DB_PASSWORD", "value": "hunter2"},
                    {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/web"},
                    {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                ],
            }],
        })));
        assert!(!kept.to_string().contains("hunter2"), "{kept}");
        let app = &kept["spec"]["containers"][0];
        assert_eq!(app["image"], "web:1");
        assert_eq!(app["env"][0], json!({"name": "DB_PASSWORD"}));
        assert_eq!(app["env"][1]["value"], "arn:aws:iam::111122223333:role/web");
        assert_eq!(app["env"][2]["valueFrom"]["secretKeyRef"]["name"], "db");
        assert_eq!(kept["metadata"]["annotations"], json!({"team": "shop"}));
        assert_eq!(kept["metadata"]["managedFields"][0]["manager"], "kubectl");
    }

    #[test]
    fn a_cron_jobs_template_is_trimmed_and_other_kinds_keep_their_data() {
        let cron = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "env": [{"name": "KEY", "value": "hunter2"}]}]
        }}}}}});
        assert!(!for_diagnosis(cron).to_string().contains("hunter2"));
        let config = json!({"kind": "ConfigMap", "data": {"mapRoles": "- rolearn: x"}});
        assert_eq!(for_diagnosis(config.clone()), config);
    }
}
