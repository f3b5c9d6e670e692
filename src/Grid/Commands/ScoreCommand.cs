using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Grid.Core.Files;
using Grid.Tasks.Images;
using Grid.Training.Runs;
using Grid.Training.Scoring;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid score CHECKPOINT --image IMG --prompt TEXT --completion TEXT [--json OUT]</c>: the per-token log-probabilities
/// of a completion under a checkpoint (Grid's own or a Hugging Face Qwen2-VL / Qwen2.5-VL folder). How a user checks a
/// port against another implementation: the JSON carries the ids, positions and image grid it was computed from.
/// </summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<DirectoryInfo>("checkpoint")
        {
            Description = "A checkpoint folder: Grid's own (checkpoint.json), a run folder (its final checkpoint), or a Hugging Face folder (config.json of qwen2_vl or qwen2_5_vl).",
        };
        var image = new Option<FileInfo?>("--image") { Description = "The image the prompt is about (PNG, JPEG, WebP, ...). Optional for Hugging Face checkpoints (text-only prompt)." };
        var prompt = new Option<string>("--prompt") { Description = "The user's question.", Required = true };
        var completion = new Option<string>("--completion") { Description = "The completion to score, as text; it is tokenized on its own and appended to the prompt.", Required = true };
        var json = new Option<FileInfo?>("--json") { Description = "Write the full result (ids, positions, grid, per-token log-probs) as JSON here." };
        var command = new Command("score", "Per-token log-probabilities of a completion under a checkpoint (Grid's own or Hugging Face's).")
        {
            checkpoint, image, prompt, completion, json,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(checkpoint)!.FullName;
            if (!Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"Checkpoint folder '{folder}' does not exist.");
            }

            if (RunFolderReport.IsRunFolder(folder))
            {
                folder = RunFolderReport.FinalCheckpoint(folder) ?? throw new DirectoryNotFoundException(
                    $"Run folder '{folder}' has no complete checkpoint yet (none of its checkpoints/ holds a checkpoint.json).");
            }

            var output = parse.GetValue(json);
            if (output is not null)
            {
                RunPreflight.RequireWritableFile(output.FullName, "json");
            }

            byte[]? imageBytes = parse.GetValue(image) is { } file ? ReadImageFile(file.FullName) : null;
            string question = parse.GetValue(prompt)!, answer = parse.GetValue(completion)!;
            var score = TorchThread.Run(() => CompletionScorer.Score(folder, imageBytes, question, answer));
            Print(score);
            if (output is not null)
            {
                File.WriteAllBytes(output.FullName, JsonSerializer.SerializeToUtf8Bytes(score, new JsonSerializerOptions { WriteIndented = true }));
                ConsoleWidth.Copyable($"written: {output.FullName}");
            }

            return 0;
        });
        return command;
    }

    /// <summary>The image file's bytes, refusing what is not a regular file before opening it, and oversized files unread.</summary>
    private static byte[] ReadImageFile(string path)
    {
        InputFile.RequireReadable(path, "image");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
        }

        long length = new FileInfo(path).Length;
        if (length > PolicyImage.MaxFileBytes)
        {
            throw new InvalidDataException(
                $"Image file '{path}' has {length} bytes, more than the limit of {PolicyImage.MaxFileBytes}; it was not read.");
        }

        return File.ReadAllBytes(path);
    }

    private static void Print(CompletionScore score)
    {
        var table = new Table().AddColumns("#", "token id", "token", "log-prob");
        for (int j = 0; j < score.CompletionLogProbs.Length; j++)
        {
            table.AddRow(j.ToString(CultureInfo.InvariantCulture), score.InputIds[score.CompletionStart + j].ToString(CultureInfo.InvariantCulture),
                Markup.Escape(score.CompletionTokens[j].Replace("\n", "\\n", StringComparison.Ordinal)),
                score.CompletionLogProbs[j].ToString("F6", CultureInfo.InvariantCulture));
        }

        ConsoleWidth.Titled($"{score.ModelType} checkpoint {score.Checkpoint}", table);
        string grid = score.ImageGridThw is { } g ? $", image grid {g[0]}x{g[1]}x{g[2]}" : "";
        ConsoleWidth.Copyable(string.Create(CultureInfo.InvariantCulture,
            $"prompt {score.CompletionStart} tokens{grid}; completion {score.CompletionLogProbs.Length} tokens, log-prob sum {score.CompletionLogProbSum:F6}"));
    }
}
