using System.Net;
using Grid.Hosting.Configuration;
using Orleans.Configuration;

namespace Grid.Hosting;

/// <summary>
/// A silo in a Kubernetes pod uses Orleans' Kubernetes hosting (<c>UseKubernetesHosting</c>): the silo is named after
/// its pod, advertises the pod's IP, and a few silos watch the API server to declare silos whose pod is gone dead at
/// once. Membership stays on Azure Table clustering (Kubernetes hosting is no clustering provider). A pod is recognised
/// by the downward-API variables infra/k8s sets (<see cref="PodNameVariable"/>, <see cref="PodNamespaceVariable"/>,
/// <see cref="PodIpVariable"/>); outside a pod nothing changes.
/// </summary>
public static class GridKubernetesHosting
{
    public const string PodNameVariable = "POD_NAME";
    public const string PodNamespaceVariable = "POD_NAMESPACE";
    public const string PodIpVariable = "POD_IP";

    /// <summary>Orleans' Kubernetes hosting takes the cluster's ids from these (the pod's orleans/* labels).</summary>
    public const string ServiceIdVariable = "ORLEANS_SERVICE_ID";
    public const string ClusterIdVariable = "ORLEANS_CLUSTER_ID";

    /// <summary>
    /// True when the pod variables are set: all three, or none (a pod without the downward API). Some but not all
    /// is a broken manifest and throws a <see cref="GridConfigurationException"/> that names the missing ones.
    /// </summary>
    public static bool InPod(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        string[] variables = [PodNameVariable, PodNamespaceVariable, PodIpVariable];
        var missing = variables.Where(v => string.IsNullOrWhiteSpace(environment(v))).ToArray();
        if (missing.Length == variables.Length)
        {
            return false;
        }

        if (missing.Length > 0)
        {
            throw new GridConfigurationException($"Kubernetes pod variables are only partly set: {string.Join(", ", missing)} "
                + $"missing. Set all of {string.Join(", ", variables)} from the downward API (fieldRef metadata.name, "
                + "metadata.namespace, status.podIP), as infra/k8s does, or none outside Kubernetes.");
        }

        if (!IPAddress.TryParse(environment(PodIpVariable), out _))
        {
            throw new GridConfigurationException($"{PodIpVariable} is '{environment(PodIpVariable)}', not an IP address; "
                + "set it from the downward API (fieldRef status.podIP).");
        }

        return true;
    }

    /// <summary>
    /// In a pod (<see cref="InPod"/> of the process environment) with Azure Table clustering, <c>UseKubernetesHosting</c>;
    /// elsewhere, or with localhost clustering (a single-process or single-machine cluster), the silo is left as it is. Call it after <see cref="GridSiloBuilderExtensions.AddGridClustering"/>.
    /// </summary>
    public static ISiloBuilder AddGridKubernetesHosting(this ISiloBuilder silo, GridSiloOptions options) =>
        silo.AddGridKubernetesHosting(options, Environment.GetEnvironmentVariable);

    /// <param name="environment">The environment to read (the process's, or a test's).</param>
    public static ISiloBuilder AddGridKubernetesHosting(this ISiloBuilder silo, GridSiloOptions options, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(options);
        if (!InPod(environment))
        {
            return silo;
        }

        if (options.Cluster != ClusterMode.Azure)
        {
            // Localhost clustering is one process or one machine (grid train's embedded silo, say, in a Job's pod): the
            // pod is only where it runs, and there is no cluster of pods for the Kubernetes hosting to watch.
            return silo;
        }

        // Orleans' hosting overwrites the ids with these variables when they are set: they must be Grid's own.
        foreach (var (variable, key, value) in new[]
        {
            (ServiceIdVariable, nameof(GridSiloOptions.ServiceId), options.ServiceId),
            (ClusterIdVariable, nameof(GridSiloOptions.ClusterId), options.ClusterId),
        })
        {
            if (environment(variable) is { Length: > 0 } set && set != value)
            {
                throw new GridConfigurationException($"{variable} is '{set}' but Grid:{key} is '{value}'; give both the same "
                    + $"value (infra/k8s takes both from the pod's orleans/{char.ToLowerInvariant(key[0])}{key[1..]} label).");
            }
        }

        var podIp = IPAddress.Parse(environment(PodIpVariable)!);
        silo.Configure<EndpointOptions>(endpoints => endpoints.AdvertisedIPAddress = podIp);
        // Orleans reads POD_NAME, POD_NAMESPACE, POD_IP and ORLEANS_* from the process environment itself.
        return silo.UseKubernetesHosting();
    }
}
