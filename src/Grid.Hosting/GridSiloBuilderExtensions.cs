using System.Net;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Grid.Hosting.Configuration;
using Grid.Hosting.Placement;
using Grid.Hosting.Storage;
using Grid.Hosting.Weights;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Hosting;

/// <summary>
/// Grid's silo features, one extension each: <c>silo.AddGridSilo(options)</c> applies them all.
/// </summary>
public static class GridSiloBuilderExtensions
{
    /// <summary>Validates the options once and adds clustering, membership timing, placement and storage.</summary>
    public static ISiloBuilder AddGridSilo(this ISiloBuilder silo, GridSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return silo
            .AddGridClustering(options)
            .AddGridKubernetesHosting(options) // in a Kubernetes pod only (GridKubernetesHosting.cs)
            .AddGridMembership(options)
            .AddGridPlacement(options.GpuDevices, options.AllowCpuLearner, options.Role)
            .AddGridStorage(options)
            .AddGridTls(options.Tls);
    }

    /// <summary>Cluster identity, endpoints and membership provider (localhost or Azure Table).</summary>
    public static ISiloBuilder AddGridClustering(this ISiloBuilder silo, GridSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Cluster == ClusterMode.Localhost)
        {
            IPEndPoint? primary = options.PrimarySiloPort is { } port ? new IPEndPoint(IPAddress.Loopback, port) : null;
            silo.UseLocalhostClustering(
                options.SiloPort, options.GatewayPort, primary, options.ServiceId, options.ClusterId);
            return silo;
        }

        string connectionString = options.AzureStorageConnectionString!;
        silo.Configure<ClusterOptions>(cluster =>
        {
            cluster.ClusterId = options.ClusterId;
            cluster.ServiceId = options.ServiceId;
        });
        if (options.AdvertisedAddress is { } address)
        {
            silo.ConfigureEndpoints(IPAddress.Parse(address), options.SiloPort, options.GatewayPort);
        }
        else
        {
            silo.ConfigureEndpoints(options.SiloPort, options.GatewayPort);
        }

        if (options.SiloListenPort is not null || options.GatewayListenPort is not null)
        {
            // Advertise one endpoint, listen on another (NAT, port mapping, a relay in front of the silo).
            silo.Configure<EndpointOptions>(endpoints =>
            {
                if (options.SiloListenPort is { } siloPort)
                {
                    endpoints.SiloListeningEndpoint = new IPEndPoint(IPAddress.Any, siloPort);
                }

                if (options.GatewayListenPort is { } gatewayPort)
                {
                    endpoints.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Any, gatewayPort);
                }
            });
        }

        silo.UseAzureStorageClustering(table => table.TableServiceClient = new TableServiceClient(connectionString));
        return silo;
    }

    /// <summary>Fast failure detection (<see cref="GridMembership"/>) when the options ask for it.</summary>
    public static ISiloBuilder AddGridMembership(this ISiloBuilder silo, GridSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.FastFailureDetection)
        {
            silo.Configure<ClusterMembershipOptions>(GridMembership.ApplyFastFailureDetection);
        }

        return silo;
    }

    /// <summary>
    /// Publishes this silo's learner capacity and role as silo metadata (<see cref="GridSiloMetadata"/>) and registers
    /// the filters behind <see cref="LearnerPlacementAttribute"/> and <see cref="RolloutPlacementAttribute"/>. Every silo
    /// needs this, GPU or not.
    /// </summary>
    public static ISiloBuilder AddGridPlacement(this ISiloBuilder silo, int gpuDevices, bool allowCpuLearner,
        GridSiloRole role = GridSiloRole.Both)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(gpuDevices);
        var metadata = new Dictionary<string, string>();
        if (gpuDevices > 0)
        {
            metadata[GridSiloMetadata.Gpu] = gpuDevices.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (allowCpuLearner)
        {
            metadata[GridSiloMetadata.CpuLearner] = "true";
        }

        metadata[GridSiloMetadata.Role] = GridSiloRoles.Name(role);
        silo.UseSiloMetadata(metadata);
        silo.Services.AddSingleton(new SiloCompute(gpuDevices));
        silo.Services.AddPlacementFilter<LearnerPlacementFilterStrategy, LearnerPlacementFilterDirector>(
            ServiceLifetime.Transient);
        silo.Services.AddPlacementFilter<RolloutPlacementFilterStrategy, RolloutPlacementFilterDirector>(
            ServiceLifetime.Transient);
        return silo;
    }

    /// <summary>
    /// Durable reminders may tick every <see cref="GridStorage.MinimumReminderPeriod"/>: a run's controller keeps
    /// itself alive with one, so a run whose controller's silo died goes on within that period of the death being
    /// detected, with no client attached. Orleans' default minimum of a minute would leave such a run idle that long.
    /// </summary>
    private static ISiloBuilder AddGridReminderTiming(this ISiloBuilder silo)
    {
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = GridStorage.MinimumReminderPeriod);
        return silo;
    }

    /// <summary>
    /// The grain storage providers <see cref="GridStorage.Grain"/> and <see cref="GridStorage.LargeGrain"/>, the
    /// reminder table (Azure Table, or memory shared like the grain states) and the <see cref="IWeightStore"/> (local
    /// folder or Azure Blob).
    /// </summary>
    public static ISiloBuilder AddGridStorage(this ISiloBuilder silo, GridSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Storage == StorageMode.Memory)
        {
            // Orleans' binary serializer, as for Azure below: the default JSON one (Newtonsoft) was the largest single
            // cost of a prompt group on the control-plane benchmark (three state writes per group).
            foreach (string name in new[] { GridStorage.Grain, GridStorage.LargeGrain })
            {
                if (options.InProcessStore is { } store)
                {
                    silo.Services.AddKeyedSingleton<IGrainStorage>(name, (provider, _) => new InProcessGrainStorage(name,
                        provider.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId, store,
                        provider.GetRequiredService<DeepCopier>(),
                        store.Folder is null ? null : provider.GetRequiredService<Serializer>()));
                    continue;
                }

                silo.AddMemoryGrainStorage(name);
                silo.Services.AddOptions<MemoryGrainStorageOptions>(name).Configure<Serializer>(
                    (o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
            }

            if (options.InProcessStore is { } shared)
            {
                silo.AddReminders();
                silo.Services.AddSingleton<IReminderTable>(_ => new InProcessReminderTable(shared));
            }
            else
            {
                silo.UseInMemoryReminderService(); // memory storage across processes: state and reminders die with a silo
            }

            silo.Services.AddSingleton<IWeightStore>(_ => new LocalFolderWeightStore(options.WeightFolder));
            return silo.AddGridReminderTiming();
        }

        string connectionString = options.AzureStorageConnectionString!;
        silo.AddAzureTableGrainStorage(GridStorage.Grain, table => table.Configure<Serializer>((o, serializer) =>
        {
            o.TableServiceClient = new TableServiceClient(connectionString);
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            o.DeleteStateOnClear = true; // a recorded step's prompt groups delete their rows, not blank them
        }));
        silo.AddAzureBlobGrainStorage(GridStorage.LargeGrain, blob => blob.Configure<Serializer>((o, serializer) =>
        {
            o.BlobServiceClient = new BlobServiceClient(connectionString);
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
        }));
        // A brief storage outage must make grains wait, not fail their turn half-persisted.
        RetryingGrainStorage.Wrap(silo.Services, GridStorage.Grain);
        RetryingGrainStorage.Wrap(silo.Services, GridStorage.LargeGrain);
        silo.UseAzureTableReminderService(table => table.TableServiceClient = new TableServiceClient(connectionString));
        silo.Services.AddSingleton<IWeightStore>(
            _ => new AzureBlobWeightStore(connectionString, options.WeightContainer));
        return silo.AddGridReminderTiming();
    }
}
