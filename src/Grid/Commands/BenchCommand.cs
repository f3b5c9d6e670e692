using System.CommandLine;
using System.Text.Json;
using Grid.Training;
using Grid.Training.Benchmarks;
using Grid.Training.Settings;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary><c>grid bench</c>: speed targets as ratios against baselines measured in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var options = new SettingsOptions();
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per measurement (medians are reported).", DefaultValueFactory = _ => 5 };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write the results as JSON here." };
        var command = new Command("bench", "Measure generation and learner speed against this machine's fp32 GEMM peak.")
        {
            repeats, output,
        };
        options.AddTo(command);
        command.SetAction(parse =>
        {
            var settings = options.Load(parse);
            int n = parse.GetValue(repeats);
            if (n < 1)
            {
                throw new Learning.Settings.InvalidSettingException("repeats", n, "an integer >= 1");
            }

            var report = TorchThread.Run(() =>
            {
                PolicyRuntime.Configure(settings.Threads, settings.Seed);
                var config = PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens);
                return PolicyBenchmark.Run(config, [1, 16, 64], learnerBatch: 64, completionTokens: settings.MaxNewTokens, repeats: n);
            });

            AnsiConsole.MarkupLineInterpolated($"model {report.Model}, {report.Parameters:N0} parameters; fp32 GEMM peak {report.GemmGflops:F1} GFLOP/s (median)");
            var table = new Table().AddColumns("benchmark", "throughput", "GFLOP/s", "of GEMM peak");
            foreach (var g in report.Generation)
            {
                table.AddRow($"generation, batch {g.BatchSize} (KV cache)", $"{g.TokensPerSecond:N0} tok/s", $"{g.Gflops:F1}", $"{g.FractionOfGemmPeak:P0}");
            }

            var l = report.Learner;
            table.AddRow($"learner step, {l.Completions} x {l.CompletionTokens} tokens", $"{l.SecondsPerStep:F3} s/step", $"{l.Gflops:F1}", $"{l.FractionOfGemmPeak:P0}");
            AnsiConsole.Write(table);
            if (parse.GetValue(output) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, RunSettingsLoader.JsonOptions));
            }

            return 0;
        });
        return command;
    }
}
