using Grid.Hosting;
using Grid.Hosting.Configuration;
using Microsoft.Extensions.Hosting;

namespace Grid.Cluster.Tests.Infrastructure;

/// <summary>An Orleans client host connected to a cluster of `grid silo` processes, as `grid submit` connects.</summary>
public static class TestClients
{
    public static async Task<IHost> ConnectAsync(GridClientOptions options, CancellationToken cancellation)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.AddGridClient(options));
        var host = builder.Build();
        await host.StartAsync(cancellation);
        return host;
    }

    /// <summary>A client of a cluster whose membership is in the Azure Table of <paramref name="storage"/>.</summary>
    public static Task<IHost> ConnectAzureAsync(string storage, string clusterId, CancellationToken cancellation) =>
        ConnectAsync(new GridClientOptions { Cluster = ClusterMode.Azure, AzureStorageConnectionString = storage, ClusterId = clusterId },
            cancellation);
}
