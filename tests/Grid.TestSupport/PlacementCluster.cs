using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Placement;
using Grid.Hosting.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;

namespace Grid.TestSupport;

/// <summary>
/// An in-process Orleans test cluster whose silo i declares <c>roles[i]</c>, with Grid placement, memory storage and
/// fast failure detection, exactly as <c>AddGridSilo</c> wires them (clustering stays the test cluster's own).
/// Test projects add their own silo wiring, e.g. the grains.
/// </summary>
public sealed class PlacementCluster : IAsyncDisposable
{
    private PlacementCluster(InProcessTestCluster cluster, IReadOnlyList<SiloRole> roles, string weights)
    {
        WeightFolder = weights;
        Cluster = cluster;
        Roles = roles;
    }

    public InProcessTestCluster Cluster { get; }

    public IReadOnlyList<SiloRole> Roles { get; }

    /// <summary>The local weight folder every silo of the cluster shares.</summary>
    public string WeightFolder { get; }

    public IClusterClient Client => Cluster.Client;

    public static Task<PlacementCluster> StartAsync(params SiloRole[] roles) =>
        StartAsync(roles, configureSilo: null, TimeSpan.FromSeconds(10));

    /// <param name="configureSilo">More wiring for every silo after placement and storage (e.g. the grains).</param>
    /// <param name="responseTimeout">The client's grain-call timeout.</param>
    /// <param name="storage">
    /// Changes the silos' options (e.g. Azure storage on Azurite) and fixes the service id, so a second cluster on the
    /// same storage finds the first one's grain state; null: memory storage shared by the cluster's silos in this
    /// process (<see cref="InProcessGrainStore"/>), a fresh service id.
    /// </param>
    /// <param name="initialSilos">Silos started now (default: one per role); <see cref="StartSiloAsync"/> starts the rest.</param>
    public static async Task<PlacementCluster> StartAsync(IReadOnlyList<SiloRole> roles,
        Action<ISiloBuilder>? configureSilo, TimeSpan responseTimeout,
        (string ServiceId, Func<GridSiloOptions, GridSiloOptions> Options)? storage = null, int? initialSilos = null)
    {
        var builder = new InProcessTestClusterBuilder((short)(initialSilos ?? roles.Count));
        if (storage is { } shared)
        {
            builder.Options.ServiceId = shared.ServiceId;
        }

        builder.Options.AssumeHomogenousSilosForTesting = false; // otherwise Orleans skips placement filters
        builder.Options.ConfigureFileLogging = false;
        string weights = Directory.CreateTempSubdirectory("grid-weights-").FullName;
        var memory = new InProcessGrainStore(); // every silo is in this process: a killed one leaves its state to the rest
        builder.ConfigureSilo((silo, siloBuilder) =>
        {
            var role = roles[int.Parse(silo.SiloName.Split('_')[1])];
            var options = new GridSiloOptions
            {
                GpuDevices = role.GpuDevices,
                AllowCpuLearner = role.AllowCpuLearner,
                Role = role.Role,
                WeightFolder = weights,
                InProcessStore = storage is null ? memory : null,
            };
            options = (storage?.Options(options) ?? options).Validate();
            siloBuilder
                .AddGridMembership(options)
                .AddGridPlacement(options.GpuDevices, options.AllowCpuLearner, options.Role)
                .AddGridStorage(options);
            configureSilo?.Invoke(siloBuilder);
        });
        builder.ConfigureClient(client =>
        {
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = responseTimeout);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var placementCluster = new PlacementCluster(cluster, roles, weights);
        await placementCluster.WaitForSiloMetadataAsync();
        return placementCluster;
    }

    /// <summary>Starts the next silo (role: the next of the roles given to StartAsync); returns once the others know it.</summary>
    public async Task<InProcessSiloHandle> StartSiloAsync()
    {
        var silo = await Cluster.StartAdditionalSiloAsync();
        await WaitForSiloMetadataAsync();
        return silo;
    }

    /// <summary>Silo address (as grains report it) to its role.</summary>
    public SiloRole RoleOf(string siloAddress)
    {
        for (int i = 0; i < Cluster.Silos.Count; i++)
        {
            if (Cluster.Silos[i].SiloAddress.ToString() == siloAddress)
            {
                return Roles[int.Parse(Cluster.Silos[i].Name.Split('_')[1])];
            }
        }

        throw new InvalidOperationException($"No active silo has address {siloAddress}.");
    }

    public IEnumerable<string> SilosWith(SiloRole role) =>
        Cluster.Silos.Where(s => Roles[int.Parse(s.Name.Split('_')[1])] == role).Select(s => s.SiloAddress.ToString());

    /// <summary>
    /// Silo metadata travels after a silo joins; until every silo knows the others' metadata, a learner could be
    /// refused for want of a GPU silo it has not heard of yet.
    /// </summary>
    public async Task WaitForSiloMetadataAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!AllMetadataKnown())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Silos did not learn each other's metadata within 30 s.");
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        try
        {
            Directory.Delete(WeightFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private bool AllMetadataKnown()
    {
        foreach (var observer in Cluster.Silos)
        {
            var cache = observer.SiloHost.Services.GetRequiredService<ISiloMetadataCache>();
            foreach (var silo in Cluster.Silos)
            {
                var role = Roles[int.Parse(silo.Name.Split('_')[1])];
                var metadata = cache.GetSiloMetadata(silo.SiloAddress).Metadata;
                if (!metadata.ContainsKey(GridSiloMetadata.Role)
                    || (role.GpuDevices > 0 && !metadata.ContainsKey(GridSiloMetadata.Gpu))
                    || (role.AllowCpuLearner && !metadata.ContainsKey(GridSiloMetadata.CpuLearner)))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
