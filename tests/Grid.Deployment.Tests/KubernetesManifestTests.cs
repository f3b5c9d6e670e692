using System.Text.RegularExpressions;
using k8s;
using k8s.Models;

namespace Grid.Deployment.Tests;

/// <summary>
/// infra/k8s without a cluster: `kubectl kustomize` renders it (offline), every rendered object is validated against the
/// Kubernetes API's JSON schemas (npm kubernetes-models, KubernetesSchema/: required fields, types, formats) and read
/// into the typed models of the KubernetesClient package with strict reading (an unknown or misplaced field fails), and
/// the deployment's invariants are checked on those objects. What this cannot
/// show (admission by a real API server, scheduling on GPU nodes, Orleans' hosting against the API server) is listed in
/// docs/deployment.md with how to check it on a cluster.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    private static readonly Lazy<string> RenderedText = new(Render);
    private static readonly Lazy<List<object>> Rendered = new(() => KubernetesYaml.LoadAllFromString(RenderedText.Value, typeMap: null, strict: true));

    private static List<object> Objects => Rendered.Value;

    /// <summary>The Secret of the silo certificate (tls.crt), its key (tls.key) and the cluster's CA (ca.crt).</summary>
    private const string TlsSecret = "grid-tls";

    private static V1Deployment Rollout => Deployment("grid-rollout-silo");

    private static V1Deployment Learner => Deployment("grid-learner-silo");

    [Fact]
    public void It_renders_and_every_object_reads_strictly_into_the_api_models()
    {
        var kinds = Objects.Cast<IKubernetesObject<V1ObjectMeta>>().Select(o => $"{o.Kind}/{o.Metadata.Name}").Order().ToList();

        Assert.Equal(new[]
        {
            "ConfigMap/grid-prometheus-scrape", "ConfigMap/grid-silo-config", "Deployment/grid-learner-silo",
            "Deployment/grid-rollout-silo", "HorizontalPodAutoscaler/grid-rollout-silo", "Namespace/grid",
            "PodDisruptionBudget/grid-rollout-silo", "Role/grid-silo-pods", "RoleBinding/grid-silo-pods", "Secret/grid-storage",
            "Service/grid-gateway", "Service/grid-metrics", "ServiceAccount/grid-silo",
        }, kinds); // no Secret/grid-tls: the operator creates it (The_tls_material_comes_only_from_the_grid_tls_secret_volume)
        Assert.All(Objects.Cast<IKubernetesObject<V1ObjectMeta>>().Where(o => o.Kind != "Namespace"),
            o => Assert.Equal("grid", o.Metadata.NamespaceProperty));
    }

    [Fact]
    public void Every_rendered_object_satisfies_the_kubernetes_api_json_schema()
    {
        string? node = RepoFiles.OnPath("node");
        string? npm = RepoFiles.OnPath("npm");
        Assert.SkipWhen(node is null || npm is null, "node and npm are not installed (the schema validator is an npm package)");
        string folder = RepoFiles.PathOf("tests/Grid.Deployment.Tests/KubernetesSchema");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "kubernetes-models")))
        {
            var install = RepoFiles.Run(npm!, ["ci", "--prefix", folder, "--no-audit", "--no-fund", "--loglevel=error"], TimeSpan.FromMinutes(5));
            Assert.True(install.Exit == 0, $"npm ci in {folder} exited {install.Exit}: {install.Errors}");
        }

        string rendered = Path.Combine(Path.GetTempPath(), $"grid-k8s-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(rendered, RenderedText.Value);
        try
        {
            var (exit, output, errors) = RepoFiles.Run("bash", ["-c", $"node '{Path.Combine(folder, "validate.mjs")}' < '{rendered}'"],
                TimeSpan.FromMinutes(2));

            Assert.True(exit == 0, $"schema validation failed:\n{output}{errors}");
            Assert.Contains($"{Objects.Count} of {Objects.Count} objects valid", output);
        }
        finally
        {
            File.Delete(rendered);
        }
    }

    [Fact]
    public void Strict_reading_refuses_a_misspelt_field()
    {
        string yaml = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: typo }
            spec:
              selector: { matchLabels: { app: x } }
              template:
                metadata: { labels: { app: x } }
                spec:
                  terminationGracePeriod: 60
                  containers: [ { name: x, image: x } ]
            """;

        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(yaml, typeMap: null, strict: true));
        Assert.Single(KubernetesYaml.LoadAllFromString(yaml, typeMap: null, strict: false));
    }

    [Fact]
    public void The_storage_connection_string_comes_only_from_the_secret()
    {
        var secret = Of<V1Secret>().Single();
        Assert.Equal("grid-storage", secret.Metadata.Name);
        Assert.Contains("connection-string", secret.StringData.Keys);

        foreach (var deployment in Of<V1Deployment>())
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            var storage = Assert.Single(container.Env, e => e.Name == "GRID_AZURE_STORAGE");
            Assert.Null(storage.Value);
            Assert.Equal("grid-storage", storage.ValueFrom.SecretKeyRef.Name);
            Assert.Equal("connection-string", storage.ValueFrom.SecretKeyRef.Key);
            var plain = container.Env.Select(e => e.Value).Concat(container.Args ?? []).Concat(container.Command ?? []);
            Assert.DoesNotContain(plain, v => v is not null && LooksLikeConnectionString(v));
            Assert.DoesNotContain(container.Env, e => e.ValueFrom?.ConfigMapKeyRef is not null && e.Name.Contains("AZURE", StringComparison.Ordinal));
        }

        foreach (var map in Of<V1ConfigMap>())
        {
            Assert.DoesNotContain(map.Data, d => LooksLikeConnectionString(d.Value) || d.Key.Contains("AZURE", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_tls_material_comes_only_from_the_grid_tls_secret_volume()
    {
        // The Secret is created by the operator (kubectl or cert-manager), never rendered from the repository.
        Assert.DoesNotContain(Of<V1Secret>(), s => s.Metadata.Name == TlsSecret);
        var files = new Dictionary<string, string>
        {
            ["GRID__TLS__CERTIFICATE"] = "tls.crt",
            ["GRID__TLS__KEY"] = "tls.key",
            ["GRID__TLS__CERTIFICATEAUTHORITY"] = "ca.crt",
        };

        foreach (var deployment in Of<V1Deployment>())
        {
            string name = deployment.Metadata.Name;
            var pod = deployment.Spec.Template.Spec;
            var container = Assert.Single(pod.Containers);
            var volume = Assert.Single(pod.Volumes ?? [], v => v.Secret?.SecretName == TlsSecret);
            Assert.True(volume.ConfigMap is null && volume.Projected is null && volume.HostPath is null, $"{name}: {volume.Name} is not only a Secret");
            Assert.Null(volume.Secret.Items); // every key, under its own name
            Assert.NotEqual(true, volume.Secret.Optional);
            var mount = Assert.Single(container.VolumeMounts ?? [], m => m.Name == volume.Name);
            Assert.True(mount.ReadOnlyProperty, $"{name}: the TLS volume is not mounted read-only");
            Assert.Null(mount.SubPath); // a subPath mount would not see a rotated Secret

            // Readable by the silo's non-root user through the group, by nobody else.
            Assert.True(pod.SecurityContext.RunAsNonRoot);
            Assert.Equal(pod.SecurityContext.RunAsUser, pod.SecurityContext.FsGroup);
            Assert.Equal(Convert.ToInt32("440", 8), volume.Secret.DefaultMode);

            var env = container.Env.ToDictionary(e => e.Name);
            foreach (var (setting, file) in files)
            {
                Assert.True(env.TryGetValue(setting, out var variable), $"{name}: no {setting}");
                Assert.Null(variable.ValueFrom);
                Assert.Equal($"{mount.MountPath.TrimEnd('/')}/{file}", variable.Value);
            }

            Assert.DoesNotContain(container.Env, e => e.Name == "GRID__TLS__PASSWORD" && e.Value is not null);
            Assert.DoesNotContain(container.Env, e => e.Name.StartsWith("GRID__TLS__", StringComparison.Ordinal)
                && e.ValueFrom?.ConfigMapKeyRef is not null);
            Assert.DoesNotContain((container.Args ?? []).Concat(container.Command ?? []),
                a => a.StartsWith("--tls", StringComparison.Ordinal) || a.Contains("-----BEGIN", StringComparison.Ordinal));
            Assert.DoesNotContain(container.Env, e => e.Value?.Contains("-----BEGIN", StringComparison.Ordinal) ?? false);
        }

        foreach (var map in Of<V1ConfigMap>())
        {
            Assert.DoesNotContain(map.Data, d => d.Key.StartsWith("GRID__TLS__", StringComparison.Ordinal)
                || d.Value.Contains("-----BEGIN", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_silo_gets_longer_to_stop_than_it_needs_to_drain()
    {
        var drain = Regex.Match(RepoFiles.Read("src/Grid/Cluster/GridSiloHost.cs"), @"ShutdownTimeout = TimeSpan\.FromSeconds\((\d+)\)");
        Assert.True(drain.Success, "GridSiloHost.ShutdownTimeout is no longer TimeSpan.FromSeconds(N): update this test");
        int drainSeconds = int.Parse(drain.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        Assert.All(Of<V1Deployment>(), d => Assert.True(d.Spec.Template.Spec.TerminationGracePeriodSeconds > drainSeconds,
            $"{d.Metadata.Name}: terminationGracePeriodSeconds {d.Spec.Template.Spec.TerminationGracePeriodSeconds} <= drain {drainSeconds} s"));
    }

    [Fact]
    public void The_disruption_budget_and_the_autoscaler_target_the_rollout_silos_only()
    {
        var pdb = Of<V1PodDisruptionBudget>().Single();
        Assert.True(Selects(pdb.Spec.Selector, Rollout), "the PodDisruptionBudget does not select the rollout silos");
        Assert.False(Selects(pdb.Spec.Selector, Learner), "the PodDisruptionBudget selects the learner silo too");
        Assert.True(Selects(Rollout.Spec.Selector, Rollout));

        var hpa = Of<V2HorizontalPodAutoscaler>().Single();
        Assert.Equal(("apps/v1", "Deployment", "grid-rollout-silo"),
            (hpa.Spec.ScaleTargetRef.ApiVersion, hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
        Assert.True(hpa.Spec.MinReplicas >= 1 && hpa.Spec.MaxReplicas > hpa.Spec.MinReplicas);
        var cpu = Assert.Single(hpa.Spec.Metrics).Resource;
        Assert.Equal("cpu", cpu.Name);
        Assert.True(Assert.Single(Rollout.Spec.Template.Spec.Containers).Resources.Requests.ContainsKey("cpu"),
            "CPU utilisation needs a CPU request on the rollout silos");
    }

    [Fact]
    public void The_learner_runs_on_gpu_nodes_and_offers_as_many_gpus_as_its_limit()
    {
        var spec = Learner.Spec.Template.Spec;
        var container = Assert.Single(spec.Containers);
        Assert.True(container.Resources.Limits.TryGetValue("nvidia.com/gpu", out var gpus), "no nvidia.com/gpu limit on the learner");
        int limit = int.Parse(gpus.ToString(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(limit >= 1);
        Assert.Equal(limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Assert.Single(container.Env, e => e.Name == "GRID__GPUDEVICES").Value);
        Assert.NotEmpty(spec.NodeSelector);
        Assert.Contains(spec.Tolerations, t => t.Key == "nvidia.com/gpu" && t.Effect == "NoSchedule");

        var rollout = Assert.Single(Rollout.Spec.Template.Spec.Containers);
        Assert.False(rollout.Resources.Limits?.ContainsKey("nvidia.com/gpu") ?? false);
        Assert.DoesNotContain(rollout.Env, e => e.Name == "GRID__GPUDEVICES");
    }

    [Fact]
    public void Silos_use_orleans_kubernetes_hosting_with_the_rbac_it_needs()
    {
        var role = Of<V1Role>().Single();
        var pods = Assert.Single(role.Rules, r => r.Resources.Contains("pods"));
        Assert.Equal([""], pods.ApiGroups);
        Assert.Equal(new[] { "delete", "get", "list", "patch", "watch" }, pods.Verbs.Order());
        var binding = Of<V1RoleBinding>().Single();
        Assert.Equal(("Role", role.Metadata.Name), (binding.RoleRef.Kind, binding.RoleRef.Name));

        foreach (var deployment in Of<V1Deployment>())
        {
            var pod = deployment.Spec.Template;
            Assert.Contains(binding.Subjects, s => s.Kind == "ServiceAccount" && s.Name == pod.Spec.ServiceAccountName);
            Assert.Contains("orleans/serviceId", pod.Metadata.Labels.Keys);
            Assert.Contains("orleans/clusterId", pod.Metadata.Labels.Keys);
            var env = Assert.Single(pod.Spec.Containers).Env.ToDictionary(e => e.Name);
            Assert.Equal("metadata.name", env["POD_NAME"].ValueFrom.FieldRef.FieldPath);
            Assert.Equal("metadata.namespace", env["POD_NAMESPACE"].ValueFrom.FieldRef.FieldPath);
            Assert.Equal("status.podIP", env["POD_IP"].ValueFrom.FieldRef.FieldPath);
            Assert.Equal(env["ORLEANS_CLUSTER_ID"].ValueFrom.FieldRef.FieldPath, env["GRID__CLUSTERID"].ValueFrom.FieldRef.FieldPath);
            Assert.Equal(env["ORLEANS_SERVICE_ID"].ValueFrom.FieldRef.FieldPath, env["GRID__SERVICEID"].ValueFrom.FieldRef.FieldPath);
        }

        Assert.Equal("azure", Of<V1ConfigMap>().Single(m => m.Metadata.Name == "grid-silo-config").Data["GRID__CLUSTER"]);
    }

    [Fact]
    public void Probes_use_healthz_on_the_metrics_port_and_prometheus_scrapes_it()
    {
        var config = Of<V1ConfigMap>().Single(m => m.Metadata.Name == "grid-silo-config").Data;
        foreach (var deployment in Of<V1Deployment>())
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            var metrics = Assert.Single(container.Ports, p => p.Name == "metrics");
            Assert.Equal(config["GRID__METRICS__PORT"], metrics.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal("0.0.0.0", config["GRID__METRICS__LISTENADDRESS"]);
            foreach (var probe in new[] { container.ReadinessProbe, container.LivenessProbe, container.StartupProbe })
            {
                Assert.NotNull(probe);
                Assert.Equal("/healthz", probe.HttpGet.Path);
                Assert.Equal("metrics", probe.HttpGet.Port.Value);
            }

            var annotations = deployment.Spec.Template.Metadata.Annotations;
            Assert.Equal("true", annotations["prometheus.io/scrape"]);
            Assert.Equal(metrics.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), annotations["prometheus.io/port"]);
        }

        var gateway = Of<V1Service>().Single(s => s.Metadata.Name == "grid-gateway");
        Assert.True(Selects(gateway.Spec.Selector, Rollout) && Selects(gateway.Spec.Selector, Learner));
        Assert.Equal("gateway", Assert.Single(gateway.Spec.Ports).TargetPort.Value);
    }

    [Fact]
    public void Promtool_accepts_the_scrape_config_with_the_shipped_alerts()
    {
        string? promtool = RepoFiles.OnPath("promtool");
        Assert.SkipWhen(promtool is null, "promtool is not installed (Debian package prometheus; infra/test.sh installs it)");
        var scrape = Of<V1ConfigMap>().Single(m => m.Metadata.Name == "grid-prometheus-scrape").Data["prometheus.yml"];
        Assert.Contains("kubernetes_sd_configs", scrape);
        var folder = Directory.CreateTempSubdirectory("grid-k8s-prometheus-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "prometheus.yml"), scrape);
            File.Copy(RepoFiles.PathOf("infra/prometheus/alerts.yml"), Path.Combine(folder.FullName, "alerts.yml"));

            var (exit, output, errors) = RepoFiles.Run(promtool!, ["check", "config", Path.Combine(folder.FullName, "prometheus.yml")],
                TimeSpan.FromMinutes(1));

            // Debian builds Prometheus without Kubernetes service discovery: its promtool cannot read this config at all.
            Assert.SkipWhen(exit != 0 && (output + errors).Contains("field kubernetes_sd_configs not found", StringComparison.Ordinal),
                "this promtool is built without Kubernetes service discovery (Debian's prometheus package); a promtool "
                + "from the Prometheus project checks it (docs/deployment.md)");
            Assert.True(exit == 0, $"promtool check config: {output}{errors}");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static string Render()
    {
        string? kubectl = RepoFiles.OnPath("kubectl");
        Assert.SkipWhen(kubectl is null,
            "kubectl is not installed, so infra/k8s cannot be rendered (kubectl kustomize); docs/deployment.md says how to check it");
        var (exit, output, errors) = RepoFiles.Run(kubectl!, ["kustomize", RepoFiles.PathOf("infra/k8s")], TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"kubectl kustomize infra/k8s exited {exit}: {errors}");
        return output;
    }

    private static IEnumerable<T> Of<T>() => Objects.OfType<T>();

    private static V1Deployment Deployment(string name) => Of<V1Deployment>().Single(d => d.Metadata.Name == name);

    private static bool Selects(V1LabelSelector selector, V1Deployment deployment) =>
        Assert.IsType<V1LabelSelector>(selector).MatchExpressions is null && Selects(selector.MatchLabels, deployment);

    private static bool Selects(IDictionary<string, string> labels, V1Deployment deployment) =>
        labels.All(l => deployment.Spec.Template.Metadata.Labels.TryGetValue(l.Key, out var v) && v == l.Value);

    private static bool LooksLikeConnectionString(string value) =>
        value.Contains("AccountKey=", StringComparison.OrdinalIgnoreCase)
        || value.Contains("DefaultEndpointsProtocol=", StringComparison.OrdinalIgnoreCase)
        || value.Contains("SharedAccessSignature=", StringComparison.OrdinalIgnoreCase)
        || value.Contains("UseDevelopmentStorage", StringComparison.OrdinalIgnoreCase);
}
