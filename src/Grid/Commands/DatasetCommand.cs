using System.CommandLine;
using Grid.Tasks;
using Grid.Tasks.Datasets;
using Grid.Tasks.Rewards;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary><c>grid dataset export|import|check</c>: write a built-in task as JSONL + PNG, convert an R1-V dataset
/// into Grid's JSONL, or validate a dataset (either layout). Formats: docs/datasets.md.</summary>
internal static class DatasetCommand
{
    /// <summary>Examples one export writes at most (each is a PNG file; 100,000 are a few hundred megabytes).</summary>
    private const int MaxExport = 100_000;

    public static Command Create()
    {
        var command = new Command("dataset", "Export built-in tasks as JSONL + PNG datasets, import R1-V datasets, or check a dataset.");
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Import());
        command.Subcommands.Add(Check());
        return command;
    }

    private static Command Export()
    {
        var task = new Option<string>("--task") { Description = "counting or geometry.", Required = true };
        var count = new Option<int>("--count") { Description = "Examples to write.", DefaultValueFactory = _ => 100 };
        var seed = new Option<long>("--seed") { Description = "Generator seed.", DefaultValueFactory = _ => 1 };
        var output = new Option<FileInfo>("--output", "-o") { Description = "The JSONL file to write.", Required = true };
        var command = new Command("export", "Generate examples of a built-in task into a JSONL file with PNG images.")
        {
            task, count, seed, output,
        };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n is < 1 or > MaxExport)
            {
                throw new InvalidSettingException("count", n, $"an integer in [1, {MaxExport}]");
            }

            string name = parse.GetValue(task)!;
            if (!TaskCatalog.TryGet(name, out var generator))
            {
                throw new InvalidSettingException("task", name, InvalidSettingException.OneOf(TaskCatalog.Names));
            }

            var path = parse.GetValue(output)!.FullName;
            // The export creates the file's folder and its images folder; both must take files before any is written.
            if (Directory.Exists(path))
            {
                throw new InvalidSettingException("output", path, "a file path, not a folder; e.g. data/counting.jsonl");
            }

            Training.Runs.RunPreflight.RequireWritableFolder(
                Path.Combine(Path.GetDirectoryName(path)!, DatasetWriter.ImageFolder), "output (its images folder)");
            Training.Runs.RunPreflight.RequireWritableFile(path, "output");
            DatasetWriter.ExportGenerated(generator, parse.GetValue(seed), n, path);
            AnsiConsole.MarkupLineInterpolated($"wrote {n} examples to {path}");
            return 0;
        });
        return command;
    }

    private static Option<string?> AnswerKindOption() => new("--answer-kind")
    {
        Description = "The dataset's answer kind for records that state none: auto, numeric, choice or text.",
    };

    private static Option<decimal> ToleranceOption() => new("--tolerance")
    {
        Description = "Absolute tolerance of numeric answers (with --answer-kind numeric).",
    };

    /// <summary>The read options the --answer-kind and --tolerance options ask for.</summary>
    private static DatasetReadOptions ReadOptions(string? kindName, decimal tolerance, string? task = null)
    {
        AnswerRule? rule = null;
        if (kindName is not null)
        {
            if (!AnswerRule.TryParseKind(kindName, out var kind))
            {
                throw new InvalidSettingException("answer-kind", kindName, InvalidSettingException.OneOf(AnswerRule.KindNames));
            }

            rule = new AnswerRule(kind, tolerance);
            if (rule.Refusal("0") is { } refusal && kind == AnswerKind.Numeric)
            {
                throw new InvalidSettingException("tolerance", tolerance, refusal);
            }
        }

        if (tolerance != 0 && rule?.Kind != AnswerKind.Numeric)
        {
            throw new InvalidSettingException("tolerance", tolerance, "0 unless --answer-kind numeric is given");
        }

        return new DatasetReadOptions(rule, DefaultTask: task ?? DatasetReadOptions.Default.DefaultTask);
    }

    private static Command Import()
    {
        var format = new Option<string>("--format") { Description = "The input's layout: r1v (image, problem, solution with <answer>).", Required = true };
        var input = new Argument<FileInfo>("input") { Description = "The JSONL file to convert." };
        var output = new Option<FileInfo>("--output", "-o") { Description = "The Grid JSONL file to write (must not exist).", Required = true };
        var task = new Option<string?>("--task") { Description = "Task name for records without one (default: custom)." };
        var kind = AnswerKindOption();
        var tolerance = ToleranceOption();
        var command = new Command("import",
            "Convert an R1-V / open-r1-multimodal JSONL dataset into Grid's JSONL, images re-encoded as PNG beside it.")
        {
            input, format, output, task, kind, tolerance,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(format) != "r1v")
            {
                throw new InvalidSettingException("format", parse.GetValue(format)!, InvalidSettingException.OneOf(["r1v"]));
            }

            var options = ReadOptions(parse.GetValue(kind), parse.GetValue(tolerance), parse.GetValue(task));
            string path = parse.GetValue(output)!.FullName;
            string images = DatasetImporter.ImageFolderOf(path);
            if (File.Exists(path) || Directory.Exists(path) || Directory.Exists(images) || File.Exists(images))
            {
                throw new InvalidSettingException("output", path,
                    $"a new file whose image folder {images} does not exist either (import never overwrites)");
            }

            Training.Runs.RunPreflight.RequireWritableFile(path, "output");
            int n = DatasetImporter.Import(parse.GetValue(input)!.FullName, path, options);
            AnsiConsole.MarkupLineInterpolated($"imported {n} records to {path} (images in {images})");
            return 0;
        });
        return command;
    }

    private static Command Check()
    {
        var input = new Argument<FileInfo>("dataset") { Description = "The JSONL file to check (Grid or R1-V layout)." };
        var kind = AnswerKindOption();
        var tolerance = ToleranceOption();
        var command = new Command("check", "Load a dataset, verify every record and image, and summarise it.") { input, kind, tolerance };
        command.SetAction(parse =>
        {
            // Streamed: one image in memory at a time, whatever the dataset's size.
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var options = ReadOptions(parse.GetValue(kind), parse.GetValue(tolerance));
            foreach (var example in DatasetReader.Read(parse.GetValue(input)!.FullName, options))
            {
                counts[example.Task] = counts.GetValueOrDefault(example.Task) + 1;
            }

            var table = new Table().AddColumns("task", "examples");
            foreach (var (task, n) in counts)
            {
                table.AddRow(task, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{counts.Values.Sum()} examples, all valid.");
            return 0;
        });
        return command;
    }
}
