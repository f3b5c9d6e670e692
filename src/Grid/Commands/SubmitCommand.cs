using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Telemetry.Reports;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid submit</c>: warm start here (unless --set init_checkpoint=...), publish the initial weights through the
/// cluster's weight store as version 0, start the run on the cluster and print its id; --wait follows it to the end
/// and writes the run folder as <c>grid train</c> does.
/// </summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        var settingsOptions = new SettingsOptions();
        var client = new ClientOptions();
        var runId = new Option<string?>("--run-id") { Description = "Run id on the cluster (default: the run folder's name)." };
        var wait = new Option<bool>("--wait") { Description = "Follow the run until it completes and write its run folder." };
        var cpuLearner = new Option<bool>("--allow-cpu-learner")
        {
            Description = "Let the learner train on a silo started with --allow-cpu-learner when no GPU silo is there.",
        };
        var command = new Command("submit", "Start a GRPO-D run on a Grid cluster (grid silo processes) and print its id.");
        settingsOptions.AddTo(command);
        client.AddTo(command);
        command.Options.Add(runId);
        command.Options.Add(wait);
        command.Options.Add(cpuLearner);
        command.SetAction(async (parse, cancellation) =>
        {
            var settings = settingsOptions.Load(parse);
            if (parse.GetValue(runId) is { } requested)
            {
                RunIds.Require(requested, "run-id");
            }

            var (configuration, clientOptions) = client.Load(parse);
            var storage = ClusterConfiguration.BindSilo(configuration);
            using var host = await ClusterClient.ConnectAsync(clientOptions, cancellation);
            var run = new ClusterRun(host.Grains(), ClusterClient.WeightStore(storage));
            bool follow = parse.GetValue(wait);
            var (id, result) = TorchThread.Run(() => ConsoleProgress.Run(observer =>
            {
                var (id, warm) = run.Submit(settings, parse.GetValue(runId), parse.GetValue(cpuLearner), observer, cancellation);
                return (id, follow ? run.Follow(id, settings, warm, observer, cancellation) : warm);
            }));
            Console.WriteLine($"run id: {id}");
            Console.WriteLine($"run folder: {result.RunFolder}");
            if (follow)
            {
                Console.WriteLine($"run {id} completed {result.StepsCompleted} steps; wall time {result.SecondsTotal:F0} s "
                    + $"(sft {result.SecondsSft:F0} s, grpo {result.SecondsGrpo:F0} s); skipped updates {result.UpdatesSkipped}");
                foreach (var task in result.Final.Tasks)
                {
                    Console.WriteLine($"{task.Task,-10} accuracy {result.AfterSft.For(task.Task).Accuracy:P1} -> {task.Accuracy:P1}");
                }

                var plots = RunPlots.Write(result.RunFolder);
                Console.WriteLine($"plots: {Path.Combine(result.RunFolder, RunPlots.Folder)} ({string.Join(", ", plots.Select(Path.GetFileName))})");
            }
            else
            {
                Console.WriteLine($"follow it with: grid status {id}");
            }

            await host.StopAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }
}
