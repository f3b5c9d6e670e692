using System.Net;
using Azure.Data.Tables;
using Grid.Hosting.Configuration;
using Orleans.Configuration;

namespace Grid.Hosting;

/// <summary>Connects an Orleans client to a Grid cluster.</summary>
public static class GridClientBuilderExtensions
{
    /// <summary>Validates the options once and configures gateway discovery (localhost ports or Azure Table).</summary>
    public static IClientBuilder AddGridClient(this IClientBuilder client, GridClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Cluster == ClusterMode.Localhost)
        {
            var gateways = options.GatewayPorts.Select(port => new IPEndPoint(IPAddress.Loopback, port)).ToArray();
            client.UseStaticClustering(gateways);
        }
        else
        {
            string connectionString = options.AzureStorageConnectionString!;
            client.UseAzureStorageClustering(table => table.TableServiceClient = new TableServiceClient(connectionString));
        }

        // A client whose gateway died moves to another; it learns of silos that joined after it connected from this
        // refresh of the gateway list (Orleans' default waits a minute).
        client.Configure<GatewayOptions>(gateway => gateway.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        client.Configure<ClusterOptions>(cluster =>
        {
            cluster.ClusterId = options.ClusterId;
            cluster.ServiceId = options.ServiceId;
        });
        return client.AddGridTls(options.Tls);
    }
}
