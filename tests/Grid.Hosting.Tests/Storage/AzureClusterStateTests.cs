using System.Net;
using System.Net.Sockets;
using Grid.Hosting.Configuration;
using Grid.Hosting.Tests.Grains;
using Grid.Hosting.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Hosting.Tests.Storage;

/// <summary>
/// Real silo hosts wired with <c>AddGridSilo</c> (Azure Table clustering and grain storage on Azurite, TCP on
/// loopback) and a real client wired with <c>AddGridClient</c>.
/// </summary>
public sealed class AzureClusterStateTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private readonly string _clusterId = $"state-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Grain_state_written_before_a_full_cluster_restart_is_there_after_it()
    {
        var ct = TestContext.Current.CancellationToken;
        int[] siloPorts = [FreePort(), FreePort()];
        int[] gatewayPorts = [FreePort(), FreePort()];

        await using (var cluster = await StartClusterAsync(siloPorts, gatewayPorts))
        {
            var counter = cluster.Client.GetGrain<ICounterGrain>("restart-counter");
            await counter.Add(2);
            await counter.Add(40);
        }

        await using (var cluster = await StartClusterAsync(siloPorts, gatewayPorts))
        {
            var state = await cluster.Client.GetGrain<ICounterGrain>("restart-counter").Get().WaitAsync(ct);

            Assert.Equal(42, state.Total);
            Assert.Equal(["+2", "+40"], state.History);
        }
    }

    private async Task<RunningCluster> StartClusterAsync(int[] siloPorts, int[] gatewayPorts)
    {
        var silos = new List<IHost>();
        for (int i = 0; i < siloPorts.Length; i++)
        {
            var options = new GridSiloOptions
            {
                Cluster = ClusterMode.Azure,
                Storage = StorageMode.Azure,
                AzureStorageConnectionString = azurite.ConnectionString,
                ClusterId = _clusterId,
                ServiceId = "grid-hosting-tests",
                SiloPort = siloPorts[i],
                GatewayPort = gatewayPorts[i],
                AdvertisedAddress = "127.0.0.1",
                GpuDevices = i == 0 ? 1 : 0,
            };
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleans(silo => silo.AddGridSilo(options));
            var host = builder.Build();
            await host.StartAsync();
            silos.Add(host);
        }

        var clientBuilder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        clientBuilder.UseOrleansClient(client => client.AddGridClient(new GridClientOptions
        {
            Cluster = ClusterMode.Azure,
            AzureStorageConnectionString = azurite.ConnectionString,
            ClusterId = _clusterId,
            ServiceId = "grid-hosting-tests",
        }));
        var clientHost = clientBuilder.Build();
        await clientHost.StartAsync();
        return new RunningCluster(silos, clientHost);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class RunningCluster(List<IHost> silos, IHost clientHost) : IAsyncDisposable
    {
        public IClusterClient Client => clientHost.Services.GetRequiredService<IClusterClient>();

        public async ValueTask DisposeAsync()
        {
            await clientHost.StopAsync();
            clientHost.Dispose();
            foreach (var silo in Enumerable.Reverse(silos))
            {
                await silo.StopAsync();
                silo.Dispose();
            }
        }
    }
}
