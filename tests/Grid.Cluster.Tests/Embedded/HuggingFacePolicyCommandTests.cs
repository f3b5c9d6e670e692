using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>
/// A Hugging Face Qwen2-VL-family checkpoint through the commands a user runs: <c>grid score</c> against the float64
/// reference of transformers' math, <c>grid train</c> warm-starting and training it on the embedded grid, <c>grid export</c>
/// writing a folder that scores the same, and the refusals of broken checkpoints (one line, exit 2).
/// </summary>
public sealed class HuggingFacePolicyCommandTests : IAsyncDisposable
{
    private static readonly string QwenData = Path.Combine(RepositoryRoot(), "tests", "Grid.Policy.Tests", "TestData", "Qwen");
    private readonly string _workFolder = Directory.CreateTempSubdirectory("grid-hf-").FullName;
    private readonly List<GridProcess> _processes = [];

    public static TheoryData<string, string> ScoredCases => new()
    {
        { "qwen2_vl", "wide_90x150" },
        { "qwen2_vl", "text_only" },
        { "qwen2_5_vl", "large_200x330" },
        { "qwen2_5_vl", "small_30x40" },
    };

    [Theory]
    [MemberData(nameof(ScoredCases))]
    public async Task Grid_score_gives_the_reference_ids_positions_and_log_probs(string family, string name)
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(QwenData, "reference", family + ".json")));
        var expected = reference.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        string json = Path.Combine(_workFolder, "score.json");
        var args = new List<string>
        {
            "score", Path.Combine(QwenData, family + "_tiny"), "--prompt", expected.GetProperty("question").GetString()!,
            "--completion", expected.GetProperty("completion").GetString()!, "--json", json,
        };
        if (expected.GetProperty("image").GetString() is { } image)
        {
            args.AddRange(["--image", Path.Combine(QwenData, image)]);
        }

        var score = await Run("score", [.. args]);

        Assert.True(score.ExitCode == 0, score.Output);
        using var actual = JsonDocument.Parse(File.ReadAllText(json));
        var root = actual.RootElement;
        Assert.Equal(Ints(expected.GetProperty("input_ids")), Ints(root.GetProperty("input_ids")));
        Assert.Equal(expected.GetProperty("completion_start").GetInt32(), root.GetProperty("completion_start").GetInt32());
        Assert.Equal(expected.GetProperty("rope_delta").GetInt64(), root.GetProperty("rope_delta").GetInt64());
        Assert.Equal(expected.GetProperty("position_ids").EnumerateArray().Select(Longs),
            root.GetProperty("position_ids").EnumerateArray().Select(Longs));
        var want = expected.GetProperty("completion_logprobs").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var got = root.GetProperty("completion_logprobs").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(want.Length, got.Length);
        Assert.All(want.Zip(got), pair => Assert.InRange(Math.Abs(pair.First - pair.Second), 0, 1e-4));
    }

    [Fact]
    public async Task A_tiny_qwen2_vl_warm_starts_trains_on_the_embedded_grid_and_exports_a_folder_that_scores_the_same()
    {
        var train = await Run("train", "train", "--preset", "smoke", "--output", "runs", "--metrics-port", "0",
            "--set", $"init_checkpoint={Path.Combine(QwenData, "qwen2_vl_tiny")}");

        Assert.True(train.ExitCode == 0, train.Output);
        string run = Assert.Single(Directory.GetDirectories(Path.Combine(_workFolder, "runs")));
        var sftLosses = File.ReadAllLines(Path.Combine(run, "sft.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("loss").GetDouble()).ToArray();
        Assert.True(sftLosses[^1] < sftLosses[0], $"the warm start's loss should fall: {string.Join(", ", sftLosses)}");
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Length);
        string final = Path.Combine(run, "checkpoints", "step-000003");
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(final, "checkpoint.json"))))
        {
            Assert.Equal("huggingface", manifest.RootElement.GetProperty("format").GetString());
        }

        string exported = Path.Combine(_workFolder, "exported");
        var export = await Run("export", "export", run, "-o", exported);

        Assert.True(export.ExitCode == 0, export.Output);
        Assert.True(File.Exists(Path.Combine(exported, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(exported, "tokenizer.json")));
        Assert.False(File.Exists(Path.Combine(exported, "checkpoint.json")), "an export is a plain hub folder");
        var fromRun = await ScoreLogProbs(final, "run.json");
        var fromExport = await ScoreLogProbs(exported, "export.json");
        Assert.Equal(fromRun, fromExport);
    }

    [Fact]
    public async Task Broken_hub_checkpoints_are_refused_in_one_line_with_exit_2()
    {
        var cases = new (string Name, Action<string> Break, string Expected)[]
        {
            ("unknown-type", folder => Rewrite(folder, "config.json", "\"qwen2_vl\"", "\"llava\""), "qwen2_vl, qwen2_5_vl"),
            ("no-tokenizer", folder => File.Delete(Path.Combine(folder, "tokenizer.json")), "tokenizer.json"),
            ("truncated", folder => Truncate(Path.Combine(folder, "model.safetensors")), "model.safetensors"),
            ("short-context", folder => Rewrite(folder, "config.json", "\"max_position_embeddings\": 32768", "\"max_position_embeddings\": 40"),
                "more than the checkpoint's context"),
        };
        foreach (var (name, breakIt, expected) in cases)
        {
            string folder = Path.Combine(_workFolder, name);
            CopyFolder(Path.Combine(QwenData, "qwen2_vl_tiny"), folder);
            breakIt(folder);

            var score = await Run(name, "score", folder, "--image", Path.Combine(QwenData, "images", "square_48.png"),
                "--prompt", "How many red circles are in the image?", "--completion", "<answer>2</answer>");

            Assert.True(score.ExitCode == 2, $"{name}: exit {score.ExitCode}\n{score.Output}");
            Assert.Contains(expected, score.Output);
            Assert.DoesNotContain("   at ", score.Output);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        Directory.Delete(_workFolder, recursive: true);
    }

    private async Task<double[]> ScoreLogProbs(string checkpoint, string jsonName)
    {
        string json = Path.Combine(_workFolder, jsonName);
        var score = await Run("score", "score", checkpoint, "--image", Path.Combine(QwenData, "images", "wide_90x150.png"),
            "--prompt", "Which shape is at the top left corner?", "--completion", "<think>blue</think><answer>square</answer>",
            "--json", json);
        Assert.True(score.ExitCode == 0, score.Output);
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        return [.. document.RootElement.GetProperty("completion_logprobs").EnumerateArray().Select(e => e.GetDouble())];
    }

    private async Task<GridProcess> Run(string name, params string[] args)
    {
        var process = GridProcess.Start(name, _workFolder, new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = "PASSIVE" }, args);
        _processes.Add(process);
        await process.WaitForExitAsync(TimeSpan.FromMinutes(6), TestContext.Current.CancellationToken);
        return process;
    }

    private static int[] Ints(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetInt32())];

    private static long[] Longs(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetInt64())];

    private static void Rewrite(string folder, string file, string from, string to)
    {
        string path = Path.Combine(folder, file);
        string text = File.ReadAllText(path);
        Assert.Contains(from, text);
        File.WriteAllText(path, text.Replace(from, to, StringComparison.Ordinal));
    }

    private static void Truncate(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.SetLength(stream.Length / 2);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grid.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No Grid.sln above {AppContext.BaseDirectory}.");
    }
}
