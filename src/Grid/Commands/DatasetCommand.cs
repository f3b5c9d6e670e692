using System.CommandLine;
using Grid.Tasks;
using Grid.Tasks.Datasets;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary><c>grid dataset export|check</c>: write a built-in task as JSONL + PNG, or validate a dataset.</summary>
internal static class DatasetCommand
{
    /// <summary>Examples one export writes at most (each is a PNG file; 100,000 are a few hundred megabytes).</summary>
    private const int MaxExport = 100_000;

    public static Command Create()
    {
        var command = new Command("dataset", "Export built-in tasks as JSONL + PNG datasets, or check a dataset.");
        command.Subcommands.Add(Export());
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

    private static Command Check()
    {
        var input = new Argument<FileInfo>("dataset") { Description = "The JSONL file to check." };
        var command = new Command("check", "Load a dataset, verify every record and image, and summarise it.") { input };
        command.SetAction(parse =>
        {
            // Streamed: one image in memory at a time, whatever the dataset's size.
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var example in DatasetReader.Read(parse.GetValue(input)!.FullName))
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
