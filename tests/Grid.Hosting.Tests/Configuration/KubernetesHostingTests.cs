using Grid.Hosting.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Hosting.Tests.Configuration;

/// <summary>
/// When a silo takes Orleans' Kubernetes hosting (<see cref="GridKubernetesHosting"/>): only in a pod, recognised by the
/// downward-API variables infra/k8s sets, with Azure Table clustering, and with the pod's cluster ids. A real pod
/// (and the API server the hosting then talks to) is not available here: docs/deployment.md says how to check one.
/// </summary>
public sealed class KubernetesHostingTests
{
    private static readonly Dictionary<string, string?> Pod = new()
    {
        ["POD_NAME"] = "grid-rollout-silo-7d9f-abcde",
        ["POD_NAMESPACE"] = "grid",
        ["POD_IP"] = "10.1.2.3",
        ["ORLEANS_SERVICE_ID"] = "grid",
        ["ORLEANS_CLUSTER_ID"] = "grid",
    };

    private static readonly GridSiloOptions Azure = new()
    {
        Cluster = ClusterMode.Azure,
        Storage = StorageMode.Azure,
        ClusterId = "grid",
        ServiceId = "grid",
    };

    [Fact]
    public void Outside_a_pod_the_silo_has_no_kubernetes_hosting()
    {
        Assert.False(GridKubernetesHosting.InPod(_ => null));
        Assert.Empty(KubernetesServices(Azure, _ => null));
    }

    [Fact]
    public void In_a_pod_the_silo_uses_orleans_kubernetes_hosting()
    {
        Assert.True(GridKubernetesHosting.InPod(Get(Pod)));
        Assert.NotEmpty(KubernetesServices(Azure, Get(Pod)));
    }

    [Fact]
    public void Some_but_not_all_pod_variables_is_a_broken_manifest_named_as_such()
    {
        var partial = new Dictionary<string, string?>(Pod) { ["POD_IP"] = null };

        var error = Assert.Throws<GridConfigurationException>(() => GridKubernetesHosting.InPod(Get(partial)));
        Assert.Contains("POD_IP missing", error.Message);
        Assert.Contains("status.podIP", error.Message);
    }

    [Fact]
    public void A_pod_ip_that_is_no_address_is_refused()
    {
        var wrong = new Dictionary<string, string?>(Pod) { ["POD_IP"] = "status.podIP" };

        var error = Assert.Throws<GridConfigurationException>(() => GridKubernetesHosting.InPod(Get(wrong)));
        Assert.Contains("not an IP address", error.Message);
    }

    [Fact]
    public void A_localhost_cluster_in_a_pod_has_no_kubernetes_hosting()
    {
        // grid train's embedded silo in a Job's pod, say: one process, no cluster of pods to watch.
        Assert.Empty(KubernetesServices(Azure with { Cluster = ClusterMode.Localhost }, Get(Pod)));
    }

    [Fact]
    public void Cluster_ids_of_the_pod_labels_and_of_grid_must_agree()
    {
        var other = new Dictionary<string, string?>(Pod) { ["ORLEANS_CLUSTER_ID"] = "blue" };

        var error = Assert.Throws<GridConfigurationException>(() => KubernetesServices(Azure, Get(other)));
        Assert.Contains("ORLEANS_CLUSTER_ID is 'blue' but Grid:ClusterId is 'grid'", error.Message);
    }

    private static Func<string, string?> Get(Dictionary<string, string?> environment) => name => environment.GetValueOrDefault(name);

    /// <summary>The services of Orleans' Kubernetes hosting package that a silo built with these options registers.</summary>
    private static List<ServiceDescriptor> KubernetesServices(GridSiloOptions options, Func<string, string?> environment)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo.AddGridKubernetesHosting(options, environment));
        return builder.Services.Where(s => s.ImplementationType?.Namespace == "Orleans.Hosting.Kubernetes").ToList();
    }
}
