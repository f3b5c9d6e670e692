using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Weights;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grid.Cli.Cluster;

/// <summary>A client process's connection to a Grid cluster, and the cluster's weight store seen from outside.</summary>
internal static class ClusterClient
{
    /// <summary>How long a client keeps trying to reach a gateway before it gives up (silos may still be starting).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);

    /// <param name="timeout">How long to keep trying; <see cref="ConnectTimeout"/> when null.</param>
    public static async Task<IHost> ConnectAsync(GridClientOptions options, CancellationToken cancellation, TimeSpan? timeout = null)
    {
        var limit = timeout ?? ConnectTimeout;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(console => console.SingleLine = true).SetMinimumLevel(LogLevel.Error)
            // A failed start is reported below as one line naming the cluster and the fix; the host's own log of it is a
            // stack trace.
            .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        var giveUp = DateTimeOffset.UtcNow + limit;
        GridTls? tls = null;
        builder.UseOrleansClient(client => client.AddGridClient(options).UseConnectionRetryFilter(async (_, token) =>
        {
            // A gateway whose certificate this client refused stays untrusted however long it waits.
            if (DateTimeOffset.UtcNow > giveUp || tls?.LastRefusal is not null)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), token);
            return true;
        }));
        var host = builder.Build();
        tls = host.Services.GetService<GridTls>();
        try
        {
            await host.StartAsync(cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            if (tls?.LastRefusal is { } refusal)
            {
                throw new GridConfigurationException(
                    $"Cannot reach cluster '{options.ClusterId}': mutual TLS {refusal}");
            }

            throw new GridConfigurationException(
                $"Cannot reach cluster '{options.ClusterId}' ({options.Cluster.ToString().ToLowerInvariant()} clustering) "
                + $"within {limit.TotalSeconds:F0} s: {e.Message} Is a `grid silo` with the same cluster id running? "
                + TlsHint(options));
        }

        return host;
    }

    /// <summary>What to check about mutual TLS when no gateway answered.</summary>
    private static string TlsHint(GridClientOptions options) => options.Tls.Enabled
        ? $"This client uses {options.Tls}: if the silos' logs say \"Mutual TLS: the handshake with ... "
            + "failed\" or refused its certificate, give it one signed by the cluster's CA with --tls-cert and --tls-key (docs/operations.md, \"Mutual TLS\")."
        : "If the cluster uses mutual TLS, this client needs a certificate signed by the cluster's CA: --tls-cert, --tls-key "
            + "and --tls-ca (keys Grid:Tls:*; docs/operations.md, \"Mutual TLS\").";

    public static IClusterClient Grains(this IHost client) => client.Services.GetRequiredService<IClusterClient>();

    /// <summary>The weight store the silos of these settings use: Azure Blob, or the shared local folder.</summary>
    public static IWeightStore WeightStore(GridSiloOptions options) => options.Storage == StorageMode.Azure
        ? new AzureBlobWeightStore(options.AzureStorageConnectionString!, options.WeightContainer)
        : new LocalFolderWeightStore(options.WeightFolder);
}
