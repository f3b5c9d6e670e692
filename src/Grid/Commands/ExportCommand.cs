using System.CommandLine;
using Grid.Policy.Checkpoints;
using Grid.Policy.Qwen;
using Grid.Training.Data;
using Grid.Training.Runs;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid export RUN_OR_CHECKPOINT -o DIR</c>: writes a run's final policy (or a checkpoint) as a self-contained folder.
/// A Qwen2-VL-family policy becomes a Hugging Face hub folder with the source's key names, dtypes and sharding and its
/// tokenizer, processor and template files, which transformers loads; Grid's own policy is written in its own format.
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var source = new Argument<DirectoryInfo>("source") { Description = "A run folder (its final checkpoint) or a checkpoint folder." };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "The folder to write; it must not exist yet, or be empty.", Required = true };
        var command = new Command("export", "Write a run's final policy or a checkpoint as a self-contained folder (Hugging Face layout for Qwen2-VL-family policies).")
        {
            source, output,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(source)!.FullName;
            if (!Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"'{folder}' does not exist: give a run folder or a checkpoint folder.");
            }

            if (RunFolderReport.IsRunFolder(folder))
            {
                folder = RunFolderReport.FinalCheckpoint(folder) ?? throw new DirectoryNotFoundException(
                    $"Run folder '{folder}' has no complete checkpoint yet (none of its checkpoints/ holds a checkpoint.json).");
            }

            string target = parse.GetValue(output)!.FullName;
            RequireEmptyTarget(target, folder);
            if (PolicyFolder.IsHuggingFace(folder))
            {
                TorchThread.Run(() =>
                {
                    using var model = HuggingFaceCheckpoint.LoadPolicy(folder);
                    HuggingFaceCheckpoint.Save(model, folder, target);
                    return 0;
                });
                ConsoleWidth.Copyable($"exported {folder} as a Hugging Face folder: {target}");
                return 0;
            }

            TorchThread.Run(() =>
            {
                var tokenizer = RunData.TokenizerOf(folder);
                var (policy, config) = PolicyCheckpoint.Load(folder, tokenizer); // checks the sha256 before anything is written
                using (policy)
                {
                    PolicyCheckpoint.Save(policy, config, target, tokenizer);
                }

                return 0;
            });
            ConsoleWidth.Copyable($"exported {folder} in Grid's own checkpoint format (its model has no Hugging Face architecture): {target}");
            return 0;
        });
        return command;
    }

    private static void RequireEmptyTarget(string target, string source)
    {
        if (Path.GetFullPath(target).TrimEnd('/') == Path.GetFullPath(source).TrimEnd('/'))
        {
            throw new InvalidDataException($"The output folder '{target}' is the checkpoint being exported; choose another folder.");
        }

        if (File.Exists(target))
        {
            throw new InvalidDataException($"The output '{target}' is a file; give a folder that does not exist yet.");
        }

        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new InvalidDataException($"The output folder '{target}' is not empty; give a new folder so nothing is overwritten.");
        }

        string? parent = Path.GetDirectoryName(Path.GetFullPath(target));
        if (parent is null || !Directory.Exists(parent))
        {
            throw new DirectoryNotFoundException($"The output folder's parent '{parent}' does not exist; create it first.");
        }
    }
}
