namespace Grid.Hosting.Configuration;

/// <summary>How a client (grid submit/status, tests) finds the cluster. <see cref="ToString"/> redacts secrets.</summary>
public sealed record GridClientOptions
{
    /// <summary>How silos find each other; the client uses the same provider to find gateways.</summary>
    public ClusterMode Cluster { get; init; } = ClusterMode.Localhost;

    /// <summary>Localhost clustering: the gateway ports of the silos on this machine.</summary>
    public IReadOnlyList<int> GatewayPorts { get; init; } = [30000];

    /// <summary>Must match the silos' cluster id.</summary>
    public string ClusterId { get; init; } = "grid";

    /// <summary>Must match the silos' service id.</summary>
    public string ServiceId { get; init; } = "grid";

    /// <summary>Azure clustering: the storage connection string holding the membership table.</summary>
    public string? AzureStorageConnectionString { get; init; }

    /// <summary>Mutual TLS to the gateways (keys <c>Grid:Tls:*</c>); must be on exactly when the silos' is.</summary>
    public GridTlsOptions Tls { get; init; } = new();

    /// <summary>Checks every setting and throws one <see cref="GridConfigurationException"/> listing all problems.</summary>
    public GridClientOptions Validate()
    {
        var problems = new List<string>();
        if (Cluster == ClusterMode.Azure && string.IsNullOrWhiteSpace(AzureStorageConnectionString))
        {
            problems.Add("Cluster=azure needs AzureStorageConnectionString, the account that holds the silos' "
                + "membership table (the same one the silos use).");
        }
        else if (Cluster == ClusterMode.Azure && StorageConnectionString.Refusal(AzureStorageConnectionString) is { } malformed)
        {
            problems.Add(malformed);
        }

        if (Cluster == ClusterMode.Localhost && (GatewayPorts.Count == 0 || GatewayPorts.Any(p => p is < 1 or > 65535)))
        {
            problems.Add($"GatewayPorts is [{string.Join(", ", GatewayPorts)}]; give the silos' gateway ports "
                + "(1 to 65535), e.g. 30000.");
        }

        if (string.IsNullOrWhiteSpace(ClusterId) || string.IsNullOrWhiteSpace(ServiceId))
        {
            problems.Add($"ClusterId '{ClusterId}' and ServiceId '{ServiceId}' must match the silos' and not be empty.");
        }

        problems.AddRange(GridTls.Problems(Tls, GridTlsRole.Client));
        if (problems.Count > 0)
        {
            throw new GridConfigurationException(
                "Invalid Grid client settings:" + Environment.NewLine + "  - "
                + string.Join(Environment.NewLine + "  - ", problems));
        }

        return this;
    }

    /// <summary>All settings, with the connection string redacted: safe for logs.</summary>
    public override string ToString() =>
        $"GridClientOptions {{ Cluster = {Cluster}, GatewayPorts = [{string.Join(", ", GatewayPorts)}], "
        + $"ClusterId = {ClusterId}, ServiceId = {ServiceId}, "
        + $"AzureStorageConnectionString = {GridSiloOptions.Redact(AzureStorageConnectionString)}, Tls = {Tls} }}";
}
