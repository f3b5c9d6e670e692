using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Hosting.Configuration;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid silo</c>: joins a cluster and serves grains until Ctrl+C or SIGTERM, then leaves it gracefully.
/// Settings: appsettings.json, --settings, environment (GRID__*, GRID_AZURE_STORAGE), then these flags.
/// </summary>
internal static class SiloCommand
{
    public static Command Create()
    {
        var cluster = new ClusterCommandOptions();
        var gpu = new Option<int?>("--gpu") { Description = "GPU devices this silo offers to learners (0 = none). Key Grid:GpuDevices." };
        var cpuLearner = new Option<bool>("--allow-cpu-learner")
        {
            Description = "Host learners of runs that allow CPU training. Key Grid:AllowCpuLearner.",
        };
        var role = new Option<string?>("--role")
        {
            Description = "What this silo does: rollout (prompt groups only), learner (learners only) or both (default). Key Grid:Role.",
        };
        var siloPort = new Option<int?>("--silo-port") { Description = "Silo-to-silo port (default 11111). Key Grid:SiloPort." };
        var gatewayPort = new Option<int?>("--gateway-port") { Description = "Client port (default 30000; 0 = no gateway). Key Grid:GatewayPort." };
        var primaryPort = new Option<int?>("--primary-port")
        {
            Description = "Localhost clustering: the silo port of the primary silo to join (omit on the primary). Key Grid:PrimarySiloPort.",
        };
        var address = new Option<string?>("--advertised-address") { Description = "IP other machines reach this silo at. Key Grid:AdvertisedAddress." };
        var siloListenPort = new Option<int?>("--silo-listen-port")
        {
            Description = "Port to listen on for silo traffic when it differs from the advertised --silo-port (NAT, port mapping). Key Grid:SiloListenPort.",
        };
        var gatewayListenPort = new Option<int?>("--gateway-listen-port")
        {
            Description = "Port to listen on for clients when it differs from the advertised --gateway-port. Key Grid:GatewayListenPort.",
        };
        var datasetCache = new Option<string?>("--dataset-cache")
        {
            Description = "Folder for this silo's copies of datasets runs publish (default ~/.cache/grid/datasets, or $XDG_CACHE_HOME/grid/datasets). Key Grid:DatasetCache.",
        };
        var metrics = new MetricsOptions();
        var command = new Command("silo", "Join a Grid cluster as a silo and serve grains until Ctrl+C / SIGTERM.");
        cluster.AddTo(command);
        foreach (var option in new Option[] { gpu, cpuLearner, role, siloPort, gatewayPort, primaryPort, address, siloListenPort, gatewayListenPort, datasetCache })
        {
            command.Options.Add(option);
        }

        metrics.AddTo(command);

        command.SetAction(async (parse, cancellation) =>
        {
            var configuration = cluster.Configuration(parse, new Dictionary<string, string?>
            {
                [nameof(GridSiloOptions.GpuDevices)] = parse.GetValue(gpu)?.ToString(),
                [nameof(GridSiloOptions.AllowCpuLearner)] = parse.GetValue(cpuLearner) ? "true" : null,
                [nameof(GridSiloOptions.Role)] = parse.GetValue(role) is { } r ? GridSiloRoles.Parse(r, "--role").ToString() : null,
                [nameof(GridSiloOptions.SiloPort)] = parse.GetValue(siloPort)?.ToString(),
                [nameof(GridSiloOptions.GatewayPort)] = parse.GetValue(gatewayPort)?.ToString(),
                [nameof(GridSiloOptions.PrimarySiloPort)] = parse.GetValue(primaryPort)?.ToString(),
                [nameof(GridSiloOptions.AdvertisedAddress)] = parse.GetValue(address),
                [nameof(GridSiloOptions.SiloListenPort)] = parse.GetValue(siloListenPort)?.ToString(),
                [nameof(GridSiloOptions.GatewayListenPort)] = parse.GetValue(gatewayListenPort)?.ToString(),
                [nameof(GridSiloOptions.DatasetCache)] = parse.GetValue(datasetCache),
            });
            var options = ClusterConfiguration.Validated(ClusterConfiguration.BindSilo(configuration));
            SiloPorts.EnsureFree(options);
            if (options.Storage == StorageMode.Memory)
            {
                // Learners publish weights there; an unwritable folder must stop the silo now, not its first run.
                Training.Runs.RunPreflight.RequireWritableFolder(options.WeightFolder, "Grid:WeightFolder (--weight-folder)");
            }

            // Runs on published data are downloaded there; an unwritable folder must stop the silo now, not fail groups.
            Training.Runs.RunPreflight.RequireWritableFolder(options.DatasetCache, "Grid:DatasetCache (--dataset-cache)");
            using var host = GridSiloHost.Build(options, metrics.Load(parse, configuration));
            await host.StartAsync(cancellation);
            // Tests and scripts wait for this line: the silo has joined and its gateway accepts clients.
            var endpoint = host.Services.GetService<GridMetricsServer>()?.Endpoint;
            Console.WriteLine($"grid silo ready: {options}; metrics {endpoint?.ToString() ?? "off"}");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellation);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C / SIGTERM: leave the cluster gracefully below.
            }

            Console.WriteLine("grid silo stopping: handing off grains and leaving the cluster");
            await host.StopAsync(CancellationToken.None);
            Console.WriteLine("grid silo stopped");
            return 0;
        });
        return command;
    }
}
