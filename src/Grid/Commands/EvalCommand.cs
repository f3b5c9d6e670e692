using System.CommandLine;
using System.Text.Json;
using Grid.Policy.Checkpoints;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training.Data;
using Grid.Training.Evaluation;
using Grid.Training.Runs;
using Grid.Training.Settings;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary><c>grid eval CHECKPOINT</c>: greedy accuracy and format rate on held-out prompts of every task.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<DirectoryInfo>("checkpoint")
        {
            Description = "Checkpoint folder (holds checkpoint.json), or a run folder to evaluate the run's final checkpoint.",
        };
        var prompts = new Option<int>("--prompts") { Description = "Held-out prompts per task.", DefaultValueFactory = _ => 200 };
        var maxNewTokens = new Option<int?>("--max-new-tokens")
        {
            Description = "Longest completion (default: as long as the checkpoint's policy has room for, 40 for the demo model).",
        };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write the report as JSON here." };
        var data = new Option<FileInfo?>("--data")
        {
            Description = "Evaluate on the records of this JSONL dataset (the first --prompts of each task) instead of the built-in tasks.",
        };
        var answerKind = new Option<string?>("--answer-kind")
        {
            Description = "With --data: answer kind of records that state none (auto, numeric, choice, text).",
        };
        var tolerance = new Option<double?>("--tolerance") { Description = "With --data and --answer-kind numeric: absolute tolerance." };
        var command = new Command("eval", "Evaluate a checkpoint on held-out prompts of both tasks, or on a dataset (--data).")
        {
            checkpoint, prompts, maxNewTokens, output, data, answerKind, tolerance,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(checkpoint)!;
            if (RunFolderReport.IsRunFolder(dir.FullName))
            {
                // A run folder: its final checkpoint (or, for a run that did not finish, its newest complete one).
                string final = RunFolderReport.FinalCheckpoint(dir.FullName) ?? throw new DirectoryNotFoundException(
                    $"Run folder '{dir.FullName}' has no complete checkpoint yet (none of its checkpoints/ holds a checkpoint.json).");
                ConsoleWidth.Copyable($"run folder {dir.FullName}: evaluating its final checkpoint {final}");
                dir = new DirectoryInfo(final);
            }

            int count = parse.GetValue(prompts);
            if (count is < 1 or > RunSettingsValidator.MaxEvalPrompts)
            {
                throw new InvalidSettingException("prompts", count,
                    $"an integer in [1, {RunSettingsValidator.MaxEvalPrompts}] (held-out prompts per task)");
            }

            int? requested = parse.GetValue(maxNewTokens);
            if (requested is < 4 or > 256)
            {
                throw new InvalidSettingException("max-new-tokens", requested, "an integer in [4, 256]");
            }

            // Everything that can be refused is refused before the evaluation runs.
            var file = parse.GetValue(output);
            if (file is not null)
            {
                RunPreflight.RequireWritableFile(file.FullName, "output");
            }

            bool hub = PolicyFolder.IsHuggingFace(dir.FullName);
            var tokenizer = hub ? Policy.Tokenization.Tokenizer.Default : RunData.TokenizerOf(dir.FullName);
            var config = RunPreflight.RequireCheckpoint(dir.FullName, "checkpoint", requested, "max-new-tokens", tokenizer);
            // A Hugging Face model's context has room for the longest completion allowed.
            int tokens = requested ?? (hub ? 256 : Math.Clamp(config.MaxTextLength - Training.PolicyRuntime.MaxPromptTokens, 1, 256));

            // A dataset is read (and any bad record refused) before the policy is loaded; its records are all held out.
            IReadOnlyList<IVisualTask> tasks = TaskCatalog.All;
            if (parse.GetValue(data) is { } dataFile)
            {
                var settings = new RunSettings
                {
                    MaxNewTokens = tokens,
                    Data = new DataSettings
                    {
                        Train = dataFile.FullName,
                        AnswerKind = parse.GetValue(answerKind),
                        Tolerance = parse.GetValue(tolerance),
                    },
                };
                RunSettingsValidator.Validate(settings);
                tasks = RunData.AllHeldOut(settings, config.ImageSize);
            }

            var report = TorchThread.Run(() =>
            {
                using var policy = Training.RunPolicy.FromCheckpoint(dir.FullName, tokenizer);
                var evaluator = new Evaluator(new TaskVerifier(), tokens, policy.Codec);
                return evaluator.Evaluate(policy.Model, tasks, count, dir.Name, RunFolderReport.TrainedTaskOf(dir.FullName));
            });

            // The checkpoint's path on a line of its own: a table's title is cut to the table's width.
            ConsoleWidth.Copyable($"evaluation of {dir.FullName} (greedy, held-out, {tokens} new tokens at most)");
            var table = new Table().AddColumns("task", "prompts", "accuracy", "format rate");
            foreach (var t in report.Tasks)
            {
                table.AddRow(t.Task == report.TrainedTask ? $"{t.Task} (trained)" : t.Task, t.Prompts.ToString(),
                    $"{t.Accuracy:P1}", $"{t.FormatRate:P1}");
            }

            AnsiConsole.Write(table);
            if (file is not null)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, RunFolder.DocumentOptions));
                ConsoleWidth.Copyable($"written: {file.FullName}");
            }

            return 0;
        });
        return command;
    }
}
