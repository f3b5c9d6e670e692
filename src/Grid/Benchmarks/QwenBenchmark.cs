using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Policy.Generation;
using Grid.Policy.Qwen;
using Grid.Policy.Scoring;
using Grid.Tasks.Images;
using Grid.Training.Benchmarks;
using static TorchSharp.torch;
using Generator = Grid.Policy.Generation.Generator;

namespace Grid.Cli.Benchmarks;

/// <summary>Generation at one batch size: every row samples exactly <c>NewTokens</c> (end tokens do not stop it).</summary>
public sealed record QwenGenerationBench(int BatchSize, int PromptTokens, int NewTokens, double[] Seconds, double TokensPerSecond);

/// <summary>What tools/qwen_vl/bench_forward.py measured: eager PyTorch, float32, the same weights and inputs.</summary>
public sealed record QwenPythonBaseline(string TorchVersion, int Threads, double LoadSeconds, long LoadPeakRssBytes,
    double[] ForwardSeconds, long PeakRssBytes);

/// <summary>
/// The qwen suite: a Qwen2-VL-2B-shaped checkpoint (random BF16 weights) loaded, scored and sampled by Grid, and the
/// same score forward in eager PyTorch run after it in the same process tree. Ratios are Grid's time over PyTorch's.
/// </summary>
public sealed record QwenBench(
    string Checkpoint,
    long Parameters,
    long CheckpointBytes,
    double? CheckpointWriteSeconds,
    int Threads,
    double LoadSeconds,
    long LoadPeakRssBytes,
    string LoadPeakRssSource,
    int ImageWidth,
    int ImageHeight,
    int[] ImageGridThw,
    int ScorePromptTokens,
    int ScoreCompletionTokens,
    double[] ScoreSeconds,
    IReadOnlyList<QwenGenerationBench> Generation,
    QwenPythonBaseline? Python,
    string? PythonNote,
    double? ScoreRatio,
    double? LoadRatio,
    double? MaxAbsLogProbDifference,
    long GridRssDuringBaselineBytes,
    double LoadAverageBefore,
    double LoadAverageAfter);

/// <summary>Runs the qwen suite (see <see cref="QwenBench"/>); torch work on the calling thread, Python after it.</summary>
public static class QwenBenchmark
{
    public const int ImageSide = 448;
    public const int GenerationNewTokens = 32;
    public const long ShardBytes = 2_000_000_000;
    private const ulong WeightSeed = 20_240_829;

    public static string DefaultCheckpointFolder =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "grid", "qwen2-vl-2b-shaped");

    private const string ScorePrompt = "Describe the shapes in this image, then count the red circles.";

    private const string ScoreCompletion =
        "<think>The image shows a grid of coloured squares and circles. I count the red circles row by row: two in the first row, one in the last.</think><answer>3</answer><|im_end|>";

    private const string GenerationPrompt = "Write a short story about a red circle that meets a blue square.";

    /// <summary>
    /// Measures on <paramref name="checkpointFolder"/> (written first when absent or incomplete); <paramref name="repeats"/>
    /// timed runs of each score and generation measurement; then the PyTorch baseline unless no Python with torch is found.
    /// </summary>
    public static QwenBench Run(string checkpointFolder, int repeats, int threads, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(log);
        double loadBefore = BenchStatistics.LoadAverage();
        checkpointFolder = Path.GetFullPath(checkpointFolder);
        string root = RepositoryRoot();
        double? writeSeconds = EnsureCheckpoint(checkpointFolder, root, log);
        long checkpointBytes = Directory.GetFiles(checkpointFolder, "*.safetensors").Sum(f => new FileInfo(f).Length);
        string inputs = Path.Combine(Path.GetTempPath(), $"grid-qwen-bench-{Guid.NewGuid():N}");
        try
        {
            var grid = MeasureGrid(checkpointFolder, repeats, inputs, log);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            ReleaseFreedMemory();
            long rssBeforePython = ReadStatusBytes("VmRSS") ?? 0;
            log(string.Create(CultureInfo.InvariantCulture, $"model disposed; this process holds {rssBeforePython / 1e9:F2} GB while the baseline runs"));
            var (python, note) = RunPython(root, checkpointFolder, inputs, repeats, get_num_threads(), log);
            double? scoreRatio = python is null ? null : BenchStatistics.Median(grid.ScoreSeconds) / BenchStatistics.Median(python.ForwardSeconds);
            double? loadRatio = python is null ? null : grid.LoadSeconds / python.LoadSeconds;
            double? difference = python is null ? null : grid.LogProbs.Zip(python.LogProbs, (a, b) => Math.Abs(a - b)).Max();
            return new QwenBench(checkpointFolder, grid.Parameters, checkpointBytes, writeSeconds, threads > 0 ? threads : get_num_threads(),
                grid.LoadSeconds, grid.LoadPeakRss, grid.LoadPeakRssSource, ImageSide, ImageSide, grid.ImageGrid, grid.PromptTokens,
                grid.CompletionTokens, grid.ScoreSeconds, grid.Generation,
                python is null ? null : new QwenPythonBaseline(python.TorchVersion, python.Threads, python.LoadSeconds, python.LoadPeakRssBytes,
                    python.ForwardSeconds, python.PeakRssBytes),
                note, scoreRatio, loadRatio, difference, rssBeforePython, loadBefore, BenchStatistics.LoadAverage());
        }
        finally
        {
            if (Directory.Exists(inputs))
            {
                Directory.Delete(inputs, recursive: true);
            }
        }
    }

    /// <summary>config.json of Qwen2-VL-2B-Instruct's shapes, on the tiny test checkpoint's config (same token ids).</summary>
    public static string Qwen2VL2BConfig(string tinyConfigJson)
    {
        var config = JsonNode.Parse(tinyConfigJson)!.AsObject();
        config["hidden_size"] = 1536;
        config["intermediate_size"] = 8960;
        config["num_hidden_layers"] = 28;
        config["max_window_layers"] = 28;
        config["num_attention_heads"] = 12;
        config["num_key_value_heads"] = 2;
        config["vocab_size"] = 151936;
        config["tie_word_embeddings"] = true;
        config["rope_theta"] = 1000000.0;
        config["max_position_embeddings"] = 32768;
        config["sliding_window"] = 32768;
        config["rope_scaling"] = new JsonObject { ["type"] = "mrope", ["mrope_section"] = new JsonArray(16, 24, 24) };
        var vision = config["vision_config"]!.AsObject();
        vision["depth"] = 32;
        vision["embed_dim"] = 1280;
        vision["hidden_size"] = 1536;
        vision["num_heads"] = 16;
        vision["mlp_ratio"] = 4;
        vision["patch_size"] = 14;
        vision["spatial_merge_size"] = 2;
        vision["temporal_patch_size"] = 2;
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>The tiny checkpoint's preprocessor_config.json with Qwen2-VL's real pixel bounds.</summary>
    public static string RealisticPreprocessor(string tinyPreprocessorJson)
    {
        var config = JsonNode.Parse(tinyPreprocessorJson)!.AsObject();
        config["min_pixels"] = 3136;
        config["max_pixels"] = 12845056;
        config["size"] = new JsonObject { ["shortest_edge"] = 3136, ["longest_edge"] = 12845056 };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static double? EnsureCheckpoint(string folder, string root, Action<string> log)
    {
        string tiny = Path.Combine(root, "tests", "Grid.Policy.Tests", "TestData", "Qwen", "qwen2_vl_tiny");
        string config = Qwen2VL2BConfig(File.ReadAllText(Path.Combine(tiny, HuggingFaceCheckpoint.ConfigFileName)));
        if (RandomQwenCheckpoint.IsComplete(folder, config))
        {
            log($"reusing the checkpoint in {folder}");
            return null;
        }

        log($"writing a Qwen2-VL-2B-shaped checkpoint with random BF16 weights to {folder} (about 4.4 GB, once)");
        var side = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["tokenizer.json"] = File.ReadAllBytes(Path.Combine(tiny, "tokenizer.json")),
            ["tokenizer_config.json"] = File.ReadAllBytes(Path.Combine(tiny, "tokenizer_config.json")),
            ["generation_config.json"] = File.ReadAllBytes(Path.Combine(tiny, "generation_config.json")),
            ["preprocessor_config.json"] = System.Text.Encoding.UTF8.GetBytes(
                RealisticPreprocessor(File.ReadAllText(Path.Combine(tiny, "preprocessor_config.json")))),
        };
        var clock = Stopwatch.StartNew();
        RandomQwenCheckpoint.Write(folder, config, side, ShardBytes, WeightSeed);
        return clock.Elapsed.TotalSeconds;
    }

    private sealed record GridSide(long Parameters, double LoadSeconds, long LoadPeakRss, string LoadPeakRssSource, int[] ImageGrid,
        int PromptTokens, int CompletionTokens, double[] ScoreSeconds, double[] LogProbs, IReadOnlyList<QwenGenerationBench> Generation);

    private static GridSide MeasureGrid(string folder, int repeats, string inputs, Action<string> log)
    {
        bool reset = ResetPeakRss();
        var clock = Stopwatch.StartNew();
        using var model = HuggingFaceCheckpoint.LoadPolicy(folder);
        double loadSeconds = clock.Elapsed.TotalSeconds;
        var (peak, source) = reset && ReadStatusBytes("VmHWM") is { } hwm
            ? (hwm, "VmHWM after resetting it before the load")
            : (Process.GetCurrentProcess().PeakWorkingSet64, "process peak working set (could not reset it before the load)");
        long parameters = model.parameters().Sum(p => p.numel());
        log(string.Create(CultureInfo.InvariantCulture, $"loaded {parameters:N0} parameters in {loadSeconds:F1} s, peak RSS {peak / 1e9:F2} GB"));

        var image = TestImage();
        var processor = model.Processor;
        var encoded = processor.EncodePrompt(image, ScorePrompt);
        int[] completion = processor.EncodeCompletion(ScoreCompletion);
        int[] ids = [.. encoded.InputIds, .. completion];
        var pixels = encoded.Image!;
        int[] gridThw = [pixels.GridT, pixels.GridH, pixels.GridW];
        WriteInputs(inputs, model.Config, ids, encoded.InputIds.Length, pixels);

        var scoreSeconds = new double[repeats];
        double[] logProbs = [];
        model.eval();
        for (int r = 0; r < repeats; r++)
        {
            // A fresh image object each time: the model caches processed pixels per image, and grid score processes once.
            var fresh = new RgbImage(image.Width, image.Height, image.Pixels);
            clock.Restart();
            using (inference_mode())
            using (NewDisposeScope())
            {
                using var scores = SequenceLogProbs.Compute(model, [fresh], [processor.EncodePrompt(fresh, ScorePrompt).InputIds],
                    [completion], stopAtEndOfCompletion: false);
                logProbs = scores.LogProbs[0].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            }

            scoreSeconds[r] = clock.Elapsed.TotalSeconds;
            log(string.Create(CultureInfo.InvariantCulture,
                $"score {r + 1}/{repeats}: {scoreSeconds[r]:F1} s ({encoded.InputIds.Length} prompt + {completion.Length} completion tokens, image grid {string.Join("x", gridThw)})"));
        }

        var generation = new List<QwenGenerationBench>();
        int[] prompt = processor.EncodePrompt(null, GenerationPrompt).InputIds;
        var settings = GenerationSettings.PolicyDistribution(GenerationNewTokens);
        foreach (int batch in new[] { 1, 8 })
        {
            var seconds = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                var requests = Enumerable.Range(0, batch).Select(b => new GenerationRequest(image, prompt, (ulong)(100 * r + b))).ToArray();
                clock.Restart();
                var results = Generator.Generate(model, requests, settings, stopAtEos: false);
                seconds[r] = clock.Elapsed.TotalSeconds;
                if (results.Any(x => x.Tokens.Length != GenerationNewTokens))
                {
                    throw new BenchmarkFailedException(
                        $"generation at batch {batch} returned {string.Join(", ", results.Select(x => x.Tokens.Length))} tokens per row, not {GenerationNewTokens}.");
                }

                log(string.Create(CultureInfo.InvariantCulture,
                    $"generation batch {batch} {r + 1}/{repeats}: {batch * GenerationNewTokens} tokens in {seconds[r]:F1} s"));
            }

            generation.Add(new QwenGenerationBench(batch, prompt.Length, GenerationNewTokens, seconds,
                batch * GenerationNewTokens / BenchStatistics.Median(seconds)));
        }

        return new GridSide(parameters, loadSeconds, peak, source, gridThw, encoded.InputIds.Length, completion.Length, scoreSeconds,
            logProbs, generation);
    }

    /// <summary>A deterministic 448 x 448 picture of coloured blocks (the weights are random, so its content is moot).</summary>
    private static RgbImage TestImage()
    {
        var pixels = new byte[ImageSide * ImageSide * 3];
        for (int y = 0; y < ImageSide; y++)
        {
            for (int x = 0; x < ImageSide; x++)
            {
                int i = 3 * ((y * ImageSide) + x);
                pixels[i] = (byte)(x / 56 * 32);
                pixels[i + 1] = (byte)(y / 56 * 32);
                pixels[i + 2] = (byte)((x + y) % 256);
            }
        }

        return new RgbImage(ImageSide, ImageSide, pixels);
    }

    /// <summary>What bench_forward.py reads: the ids, positions and pixels Grid's score forward used.</summary>
    private static void WriteInputs(string folder, QwenVLConfig config, int[] ids, int completionStart, QwenImageProcessorOutput pixels)
    {
        Directory.CreateDirectory(folder);
        var (positions, _) = QwenRopeIndex.Compute(config, ids, [(pixels.GridT, pixels.GridH, pixels.GridW)]);
        var json = new JsonObject
        {
            ["input_ids"] = new JsonArray([.. ids.Select(i => (JsonNode)i)]),
            ["positions"] = new JsonArray([.. positions.Select(axis => (JsonNode)new JsonArray([.. axis.Select(p => (JsonNode)p)]))]),
            ["completion_start"] = completionStart,
            ["image_grid_thw"] = new JsonArray(pixels.GridT, pixels.GridH, pixels.GridW),
            ["patches"] = pixels.Patches,
            ["patch_values"] = pixels.PatchValues,
        };
        File.WriteAllText(Path.Combine(folder, "inputs.json"), json.ToJsonString());
        File.WriteAllBytes(Path.Combine(folder, "pixel_values.f32"), MemoryMarshal.AsBytes(pixels.PixelValues.AsSpan()).ToArray());
    }

    private sealed record PythonOutput(
        [property: System.Text.Json.Serialization.JsonPropertyName("torch_version")] string TorchVersion,
        [property: System.Text.Json.Serialization.JsonPropertyName("threads")] int Threads,
        [property: System.Text.Json.Serialization.JsonPropertyName("load_seconds")] double LoadSeconds,
        [property: System.Text.Json.Serialization.JsonPropertyName("load_peak_rss_bytes")] long LoadPeakRssBytes,
        [property: System.Text.Json.Serialization.JsonPropertyName("forward_seconds")] double[] ForwardSeconds,
        [property: System.Text.Json.Serialization.JsonPropertyName("peak_rss_bytes")] long PeakRssBytes,
        [property: System.Text.Json.Serialization.JsonPropertyName("log_probs")] double[] LogProbs);

    private const string Python = "/usr/bin/python3";

    /// <summary>The baseline as a child process, after Grid's model is gone; a missing Python or torch is a note, not a failure.</summary>
    private static (PythonOutput? Output, string? Note) RunPython(string root, string checkpoint, string inputs, int repeats, int threads,
        Action<string> log)
    {
        string script = Path.Combine(root, "tools", "qwen_vl", "bench_forward.py");
        if (!File.Exists(Python))
        {
            return (null, $"no {Python}: the PyTorch baseline was not run (apt-get install python3-torch python3-numpy)");
        }

        var probe = Execute(["-c", "import torch, numpy"], TimeSpan.FromMinutes(2));
        if (probe.ExitCode != 0)
        {
            return (null, $"{Python} cannot import torch and numpy ({probe.Error.Trim()}): the PyTorch baseline was not run "
                + "(apt-get install python3-torch python3-numpy)");
        }

        log($"running the PyTorch baseline: {Python} {script}");
        var run = Execute([script, "--checkpoint", checkpoint, "--inputs", inputs, "--repeats", $"{repeats}", "--threads", $"{threads}"],
            TimeSpan.FromHours(1));
        if (run.ExitCode != 0)
        {
            throw new BenchmarkFailedException($"{script} exited with {run.ExitCode}: {run.Error.Trim()}");
        }

        var output = JsonSerializer.Deserialize<PythonOutput>(run.Output)
            ?? throw new BenchmarkFailedException($"{script} printed no result: {run.Output}");
        return (output, null);
    }

    private static (int ExitCode, string Output, string Error) Execute(string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var process = Process.Start(start) ?? throw new BenchmarkFailedException($"{Python} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new BenchmarkFailedException($"{Python} {string.Join(' ', arguments)} ran longer than {timeout.TotalMinutes:F0} minutes.");
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>
    /// Hands freed heap memory back to the kernel: libtorch frees the weights, but glibc keeps the tensors smaller than
    /// its mmap threshold in its arenas (6 GB of this model), which the baseline would otherwise run beside.
    /// </summary>
    private static void ReleaseFreedMemory()
    {
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: nothing to trim, the figure logged before the baseline shows what remains.
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>Resets the kernel's peak RSS of this process (VmHWM), so the next reading is the load's own peak.</summary>
    private static bool ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? ReadStatusBytes(string field)
    {
        try
        {
            string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The repository (the folder with Grid.sln) above the working directory or the binary: the tiny checkpoint's tokenizer and the baseline script live there.</summary>
    private static string RepositoryRoot()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Grid.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new BenchmarkFailedException(
            $"The qwen suite runs inside the Grid repository (it reads tests/Grid.Policy.Tests/TestData/Qwen and tools/qwen_vl); no Grid.sln above {Environment.CurrentDirectory}. Run it from the repository.");
    }
}
