using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Cli.Experiments;
using Grid.Core.Settings;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Training;
using Grid.Training.Experiments;
using Grid.Training.Settings;
using Microsoft.Extensions.Hosting;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid experiment</c>: the paper's study in one command. From one base policy, the arms (base, sft, grpo, grpo-d,
/// optionally adaptive) are trained on each task with several seeds, every final policy is evaluated on every task's
/// held-out prompts, and the experiment folder gets results.md (the paper's Table 1, cross-task changes over SFT, what
/// the study can resolve), experiment.json, a bar chart and every run's folder.
/// </summary>
internal static class ExperimentCommand
{
    /// <summary>Seeds per arm and task at most: each is a whole run per arm and task.</summary>
    private const int MaxSeeds = 100;

    public static Command Create()
    {
        var settingsOptions = new SettingsOptions();
        var client = new ClientOptions();
        var arms = new Option<string>("--arms")
        {
            Description = $"Arms, comma-separated: {string.Join(", ", ExperimentArm.All.Select(a => a.Name))}.",
            DefaultValueFactory = _ => string.Join(",", ExperimentArm.Defaults.Select(a => a.Name)),
        };
        var tasks = new Option<string>("--tasks")
        {
            Description = "Tasks to train on, one after another, comma-separated; every policy is evaluated on all of them.",
            DefaultValueFactory = _ => string.Join(",", ExperimentTasks.Defaults),
        };
        var seeds = new Option<int>("--seeds")
        {
            Description = "Seeds per arm and task (seed k runs with the settings' seed + k; the base stays the same).",
            DefaultValueFactory = _ => 3,
        };
        var budget = new Option<string>("--budget")
        {
            Description = $"full: the settings as given; small: at most {ExperimentBudget.SmallSteps} GRPO steps and "
                + $"{ExperimentBudget.SmallEvalPrompts} held-out prompts per task (within an hour on 2 cores).",
            DefaultValueFactory = _ => "full",
        };
        var baseOption = new Option<string?>("--base")
        {
            Description = "Base checkpoint folder (as grid sft prints it); default: run the default warm start once.",
        };
        var name = new Option<string>("--name")
        {
            Description = "Name of the experiment folder (followed by the UTC time).",
            DefaultValueFactory = _ => "experiment",
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder the experiment folder is created in.",
            DefaultValueFactory = _ => "experiments",
        };
        var cpuLearner = new Option<bool>("--allow-cpu-learner")
        {
            Description = "With --cluster: let the learners train on silos started with --allow-cpu-learner.",
        };
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue a stopped or killed study in its folder, with the command line it was started with: "
                + "finished runs are kept, an interrupted RL run goes on from its grid state, the rest run again.",
            HelpName = "EXPERIMENT_FOLDER",
        };
        var command = new Command("experiment",
            "Run the paper's study: base, sft, grpo and grpo-d from one base policy, on each task, over seeds; "
            + "write results.md, experiment.json and a chart.");
        command.Options.Add(arms);
        command.Options.Add(tasks);
        command.Options.Add(seeds);
        command.Options.Add(budget);
        command.Options.Add(baseOption);
        command.Options.Add(name);
        command.Options.Add(output);
        settingsOptions.AddSettingsTo(command);
        client.AddTo(command);
        command.Options.Add(cpuLearner);
        command.Options.Add(resume);
        // Given alone, --cluster sends the RL arms to the cluster the configuration names; with a value it also says
        // how silos find each other, as for grid submit.
        client.Cluster.Cluster.Arity = ArgumentArity.ZeroOrOne;
        client.Cluster.Cluster.Description =
            "Run the RL arms on a running cluster instead of the embedded grid (the arms of a seed side by side); "
            + "optionally how its silos find each other: localhost or azure (key Grid:Cluster).";

        command.SetAction(async (given, cancellation) =>
        {
            var parse = given;
            ExperimentFolder? resumed = null;
            if (given.GetValue(resume) is { } resumeFolder)
            {
                var tokens = given.Tokens.Where(t => t.Type != System.CommandLine.Parsing.TokenType.Command).ToArray();
                if (tokens.Length > 2)
                {
                    throw new InvalidSettingException("resume", string.Join(" ", tokens.Select(t => t.Value)),
                        "--resume EXPERIMENT_FOLDER alone: the study goes on with the command line in its command.json");
                }

                resumed = ExperimentFolder.Open(resumeFolder);
                string[] original = System.Text.Json.JsonSerializer.Deserialize<string[]>(
                    File.ReadAllText(Path.Combine(resumed.Path, ExperimentFolder.CommandFile))) ?? [];
                parse = command.Parse(original);
                if (parse.Errors.Count > 0)
                {
                    throw new InvalidSettingException("resume", resumeFolder,
                        $"a study whose command.json still parses ({parse.Errors[0].Message})");
                }
            }

            var armList = ExperimentArm.ParseList(parse.GetValue(arms)!);
            IReadOnlyList<string> taskList = ExperimentTasks.ParseList(parse.GetValue(tasks)!);
            int seedCount = parse.GetValue(seeds);
            if (seedCount is < 1 or > MaxSeeds)
            {
                throw new InvalidSettingException("seeds", seedCount, $"an integer in [1, {MaxSeeds}], e.g. --seeds 3");
            }

            var studyBudget = ExperimentBudget.Parse(parse.GetValue(budget));
            string experimentName = parse.GetValue(name)!;
            if (string.IsNullOrWhiteSpace(experimentName) || experimentName.Length > RunSettingsValidator.MaxNameLength
                || !experimentName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw new InvalidSettingException("name", experimentName,
                    $"a non-empty name of at most {RunSettingsValidator.MaxNameLength} letters, digits, '-' or '_' (it names the experiment folder)");
            }

            var settingsGiven = settingsOptions.Load(parse);
            var settings = studyBudget.Apply(settingsGiven);
            IReadOnlyList<string>? evalTasks = null;
            if (settings.Data.IsSet)
            {
                // A study on the user's dataset: every arm trains on data.train and is evaluated on data.eval (or the split).
                if (parse.GetResult(tasks) is { Implicit: false })
                {
                    throw new InvalidSettingException("tasks", parse.GetValue(tasks),
                        "left out with data.train: the study trains on the dataset's own task (--tasks picks built-in tasks)");
                }

                var data = Training.Data.RunData.For(settings);
                taskList = [data.TrainedTask];
                evalTasks = [.. data.EvalTasks.Select(t => t.Name)];
            }

            string? baseCheckpoint = parse.GetValue(baseOption) is { } path ? RequireCheckpoint(path, settings) : null;
            string parent = parse.GetValue(output)!;
            Training.Runs.RunPreflight.RequireWritableFolder(parent, "output");

            // On a cluster, connect before anything is written: an unreachable cluster leaves no experiment folder.
            IHost? host = null;
            IRlArmTrainer trainer = new EmbeddedRlArmTrainer();
            if (parse.GetResult(client.Cluster.Cluster) is not null)
            {
                var (configuration, clientOptions) = client.Load(parse);
                var storage = ClusterConfiguration.BindSilo(configuration);
                host = await ClusterClient.ConnectAsync(clientOptions, cancellation);
                trainer = new ClusterRlArmTrainer(new ClusterRun(host.Grains(), ClusterClient.WeightStore(storage)),
                    $"cluster '{clientOptions.ClusterId}' ({clientOptions.Cluster.ToString().ToLowerInvariant()} clustering)",
                    parse.GetValue(cpuLearner));
            }

            ExperimentRunner? runner = null;
            ExperimentFolder? folder = resumed;
            try
            {
                if (folder is null)
                {
                    folder = ExperimentFolder.Create(parent, experimentName, DateTimeOffset.UtcNow);
                    File.WriteAllText(Path.Combine(folder.Path, ExperimentFolder.CommandFile),
                        System.Text.Json.JsonSerializer.Serialize(Environment.GetCommandLineArgs().Skip(2).ToArray()));
                }

                ExperimentPlan plan;
                try
                {
                    // Every run's settings are validated and the RL arms checked for equal compute before anything starts.
                    plan = ExperimentPlan.Create(settings, armList, taskList, seedCount, folder.RunsPath, baseCheckpoint, evalTasks);
                }
                catch (InvalidSettingException)
                {
                    if (resumed is null)
                    {
                        Directory.Delete(folder.Path, recursive: true);
                    }

                    throw;
                }

                Console.WriteLine($"experiment folder: {folder.Path}");
                Console.WriteLine($"arms {string.Join(", ", armList)}; tasks {string.Join(", ", taskList)}; {seedCount} seed(s); "
                    + $"{plan.Runs.Count} runs; RL arms on {trainer.Mode}");
                Console.WriteLine(studyBudget.Describe(settingsGiven));
                Console.WriteLine(baseCheckpoint is null
                    ? $"base: the default warm start ({settings.Sft.Steps} SFT steps), run once for every arm"
                    : $"base: {baseCheckpoint}");
                runner = new ExperimentRunner(plan, studyBudget, studyBudget.Changes(settingsGiven), folder, trainer, CommandLine(),
                    resume: resumed is not null);
                if (resumed is not null)
                {
                    Console.WriteLine("resuming: finished runs are kept, an interrupted RL run goes on from its grid state");
                }

                var results = runner.Run(cancellation);
                Report(results, folder);
            }
            catch (OperationCanceledException stop) when (cancellation.IsCancellationRequested && folder is not null)
            {
                // One line for the study, not the run it was in: the study is what resumes.
                throw new Runs.RunStoppedException($"stopped: kept {folder.Path} ({runner?.RunsFinished ?? 0} runs finished); "
                    + $"resume with: grid experiment --resume {folder.Path}", stop);
            }
            finally
            {
                if (host is not null)
                {
                    await host.StopAsync(CancellationToken.None);
                    host.Dispose();
                }
            }

            return 0;
        });
        return command;
    }

    /// <summary>The --base folder as a full path, refused unless it is a complete checkpoint of the settings' model.</summary>
    private static string RequireCheckpoint(string path, RunSettings settings)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Length > RunSettingsValidator.MaxPathLength || path.Any(char.IsControl))
        {
            throw new InvalidSettingException("base", path,
                $"a checkpoint folder's path (non-empty, at most {RunSettingsValidator.MaxPathLength} characters, no control "
                + "characters), or leave --base out to run the default warm start");
        }

        string full = Path.GetFullPath(path);
        if (!File.Exists(Path.Combine(full, PolicyCheckpoint.ManifestFileName)))
        {
            throw new InvalidSettingException("base", path, "a checkpoint folder holding checkpoint.json, as grid sft prints "
                + "it (RUN/checkpoints/sft), or leave --base out to run the default warm start");
        }

        PolicyConfig config;
        try
        {
            config = PolicyCheckpoint.Inspect(full).Config;
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            throw new InvalidSettingException("base", path, $"a readable checkpoint ({e.Message})");
        }

        var expected = PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens, Training.Data.RunData.TokenizerFor(settings));
        if (config != expected)
        {
            throw new InvalidSettingException("base", path,
                $"a checkpoint of the settings' model {expected}, but it holds {config}: give the study the settings the "
                + "base was trained with (--preset, --config, --set model.*=... and max_new_tokens)");
        }

        return full;
    }

    private static string CommandLine() => "grid " + string.Join(" ", Environment.GetCommandLineArgs().Skip(1)
        .Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"\"{a}\"" : a));

    private static void Report(ExperimentResults results, ExperimentFolder folder)
    {
        var same = new Table().Title("held-out accuracy (%), trained and evaluated on the same task")
            .AddColumn("arm");
        var cross = new Table().Title("cross task (%), in brackets the change over SFT").AddColumn("arm");
        foreach (string task in results.Tasks)
        {
            same.AddColumn($"trained {task} -> eval {task}");
            foreach (string other in results.EvalTasks.Where(t => t != task))
            {
                cross.AddColumn($"trained {task} -> eval {other}");
            }
        }

        foreach (string arm in results.Arms)
        {
            same.AddRow([arm, .. results.Tasks.Select(t => Cell(results, arm, t, t, relative: false))]);
            cross.AddRow([arm, .. results.Tasks.SelectMany(t => results.EvalTasks.Where(o => o != t)
                .Select(o => Cell(results, arm, t, o, relative: true)))]);
        }

        AnsiConsole.Write(same);
        if (results.EvalTasks.Count > 1)
        {
            AnsiConsole.Write(cross);
        }

        Console.WriteLine($"results: {Path.Combine(folder.Path, ResultsMarkdown.FileName)}");
        Console.WriteLine($"numbers: {Path.Combine(folder.Path, ExperimentFolder.ResultsJson)}");
        Console.WriteLine($"chart:   {Path.Combine(folder.Path, ExperimentRunner.ChartFile)}");
        Console.WriteLine($"wall time {results.WallSeconds / 60:F1} min");
    }

    private static string Cell(ExperimentResults results, string arm, string trained, string evaluated, bool relative)
    {
        if (results.Cell(arm, trained, evaluated) is not { } cell)
        {
            return "-";
        }

        string text = ResultsMarkdown.Format(cell);
        return relative && arm != ExperimentArm.Sft.Name && results.Cell(ExperimentArm.Sft.Name, trained, evaluated) is not null
            ? $"{text} [[{ResultsMarkdown.FormatRelative(cell.RelativeToSftPercent)}]]"
            : text;
    }
}
