using System.CommandLine;
using Grid.Tasks;
using Grid.Tasks.Datasets;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary><c>grid dataset export|check</c>: write a built-in task as JSONL + PNG, or validate a dataset.</summary>
internal static class DatasetCommand
{
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
            if (n < 1)
            {
                throw new Learning.Settings.InvalidSettingException("count", n, "an integer >= 1");
            }

            var path = parse.GetValue(output)!.FullName;
            DatasetWriter.ExportGenerated(TaskCatalog.Get(parse.GetValue(task)!), parse.GetValue(seed), n, path);
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
            var examples = DatasetReader.Load(parse.GetValue(input)!.FullName);
            var table = new Table().AddColumns("task", "examples");
            foreach (var group in examples.GroupBy(e => e.Task))
            {
                table.AddRow(group.Key, group.Count().ToString());
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{examples.Count} examples, all valid.");
            return 0;
        });
        return command;
    }
}
