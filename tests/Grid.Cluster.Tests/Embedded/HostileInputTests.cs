using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Grid.Cluster.Tests.Infrastructure;
using static Grid.TestSupport.HostileFiles;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>
/// The rule for everything a user can type or point at, tested over the CLI surface with generated cases: every case
/// runs the real grid process, which must exit 0 (accepted) or 2 (refused, one line naming the input), within a time
/// bound and a memory bound, and print no stack trace. Cases are generated from a fixed seed over every settings key
/// (with hostile values), settings files, mutated checkpoint folders, dataset files and paths; accepted settings go
/// through <c>--dry-run</c> and accepted checkpoints through a 1-prompt evaluation, so no case trains.
/// </summary>
public sealed partial class HostileInputTests : IAsyncDisposable
{
    private const int Seed = 13;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);
    private const long MaxPeakRssBytes = 1536L << 20;

    private readonly GridProcesses _processes = new("grid-hostile-");

    private string Work => _processes.WorkFolder;

    [Fact]
    public async Task Every_generated_hostile_input_exits_0_or_2_quickly_within_memory_and_without_a_stack_trace()
    {
        var cancellation = TestContext.Current.CancellationToken;
        string checkpoint = await MakeCheckpointAsync(cancellation);
        string dataset = await MakeDatasetAsync(cancellation);
        string[] keys = await SettingsKeysAsync(cancellation);
        var random = new Random(Seed);
        var cases = new List<HostileCase>();
        cases.AddRange(SettingsCases(random, keys));
        cases.AddRange(ConfigFileCases(random, keys));
        cases.AddRange(CheckpointCases(random, checkpoint));
        cases.AddRange(DatasetCases(random, dataset));
        cases.AddRange(CommandLineCases(checkpoint));

        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        var outcomes = new int[3];
        double slowest = 0;
        long largest = 0;
        // Two at a time: the machine has 2 cores, and most cases are a process start and a refusal.
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellation },
            async (hostile, token) =>
            {
                var (exit, seconds, peak, output) = await RunAsync(hostile, token);
                string? problem = exit is not (0 or 2) ? $"exit code {exit}"
                    : seconds > CaseTimeout.TotalSeconds ? $"took {seconds:F1} s"
                    : peak > MaxPeakRssBytes ? $"peak RSS {peak >> 20} MB"
                    : StackTrace().IsMatch(output) || output.Contains("Unhandled exception", StringComparison.Ordinal)
                        ? "printed a stack trace"
                    : exit == 2 && !output.Contains("error:", StringComparison.Ordinal) ? "refused without an error line"
                    : hostile.MustRefuse && exit != 2 ? "was accepted but must be refused"
                    : MustAccept.Contains(hostile.Name) && exit != 0 ? "was refused but must be accepted"
                    : null;
                lock (failures)
                {
                    outcomes[exit is 0 or 2 ? exit : 1]++;
                    slowest = Math.Max(slowest, seconds);
                    largest = Math.Max(largest, peak);
                    if (problem is not null)
                    {
                        failures.Add($"{hostile.Name}: {problem}\n  grid {string.Join(' ', hostile.Arguments.Select(Show))}\n"
                            + string.Join('\n', output.Split('\n').Take(12).Select(line => "  | " + line)));
                    }
                }
            });

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{cases.Count} hostile cases in {clock.Elapsed.TotalSeconds:F0} s: {outcomes[0]} accepted, {outcomes[2]} refused; "
            + $"slowest {slowest:F1} s, largest peak RSS {largest >> 20} MB");
        Assert.True(cases.Count >= 100, $"only {cases.Count} cases were generated");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases broke the rule:\n{string.Join("\n", failures)}");
        Assert.True(outcomes[2] > cases.Count / 2, "most hostile cases must be refused");
    }

    [Fact]
    public async Task An_unwritable_eval_output_is_refused_before_the_evaluation_runs()
    {
        var cancellation = TestContext.Current.CancellationToken;
        string checkpoint = await MakeCheckpointAsync(cancellation);
        var clock = Stopwatch.StartNew();

        // 10,000 prompts per task would take minutes; the refusal must come first.
        var eval = await RunToEndAsync("eval", cancellation, "eval", checkpoint, "--prompts", "10000", "-o", "/proc/grid-report.json");

        Assert.True(eval.ExitCode == 2, eval.Output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:F0} s:\n{eval.Output}");
        Assert.Contains("error: Invalid setting output = \"/proc/grid-report.json\"", eval.Output);
        Assert.DoesNotContain("evaluation of", eval.Output);
    }

    [Fact]
    public async Task Train_with_sft_steps_0_runs_grpo_on_the_embedded_grid_from_the_initial_policy()
    {
        var cancellation = TestContext.Current.CancellationToken;

        var train = await RunToEndAsync("train", cancellation, "train", "--preset", "smoke", "--set", "sft.steps=0",
            "--set", "eval_prompts=2", "--output", "runs", "--metrics-port", "0");

        Assert.True(train.ExitCode == 0, train.Output);
        string run = Assert.Single(Directory.GetDirectories(Path.Combine(Work, "runs")));
        Assert.True(File.Exists(Path.Combine(run, "checkpoints", "sft", "checkpoint.json")));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Length);
        Assert.False(File.Exists(Path.Combine(run, "sft.jsonl")), "no SFT step ran, so none is logged");
    }

    [Fact]
    public async Task Every_command_refuses_every_hostile_path_class_in_every_path_argument_without_opening_it()
    {
        var cancellation = TestContext.Current.CancellationToken;
        string checkpoint = await MakeCheckpointAsync(cancellation);
        string dataset = await MakeDatasetAsync(cancellation);
        var cases = PathCases(checkpoint, dataset).ToList();

        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        double slowest = 0;
        // Four at a time: a refused case is mostly the runtime starting, and the slow ones wait on nothing.
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellation },
            async (hostile, token) =>
            {
                var (exit, seconds, _, output) = await RunAsync(hostile, token);
                string? problem = exit != 2 ? $"exit code {exit}, not 2"
                    : StackTrace().IsMatch(output) || output.Contains("Unhandled exception", StringComparison.Ordinal)
                        ? "printed a stack trace"
                    : !output.Contains("error:", StringComparison.Ordinal) ? "refused without an error line"
                    : seconds > PathCaseSeconds ? $"took {seconds:F1} s to refuse"
                    : null;
                lock (failures)
                {
                    slowest = Math.Max(slowest, seconds);
                    if (problem is not null)
                    {
                        failures.Add($"{hostile.Name}: {problem}\n  grid {string.Join(' ', hostile.Arguments.Select(Show))}\n"
                            + string.Join('\n', output.Split('\n').Take(8).Select(line => "  | " + line)));
                    }
                }
            });

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{cases.Count} hostile path cases ({PathSlots(checkpoint, dataset).Count} path arguments x up to {PathClasses.Length} "
            + $"classes) in {clock.Elapsed.TotalSeconds:F0} s; slowest {slowest:F1} s");
        Assert.True(cases.Count >= 150, $"only {cases.Count} path cases were generated");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} path cases broke the rule:\n{string.Join("\n", failures)}");
    }

    /// <summary>Cases that are fine as given: the generator's controls, so a rule that refuses everything fails.</summary>
    private static readonly HashSet<string> MustAccept =
    [
        "output with spaces", "checkpoint unchanged", "eval with the checkpoint's own tokens", "dataset good copy",
        "set sft.task_weights.geometry=2",
    ];

    /// <summary>One case: grid's arguments, made after <see cref="Prepare"/> wrote its files.</summary>
    private sealed record HostileCase(string Name, string[] Arguments, bool MustRefuse = false, Action? Prepare = null);

    // ---------------------------------------------------------------- settings

    /// <summary>Values no setting should crash on; each setting gets several, the rest are drawn.</summary>
    private static readonly string[] HostileValues =
    [
        "", "null", "-1", "0", "1", "-2147483649", "2147483648", "9223372036854775808", "1e308", "-1e308", "1e-320",
        "NaN", "\"NaN\"", "Infinity", "true", "[]", "{}", "[1,2]", "{\"a\":1,\"a\":2}", "\"x\"", "0.5", "1000000000",
        "\"../../etc\"", "\"a b\"", "\"a\\nb\"", "\"\\u0000\"", new string('9', 400), "\"" + new string('x', 5000) + "\"",
    ];

    private IEnumerable<HostileCase> SettingsCases(Random random, string[] keys)
    {
        // Every key once with a drawn value, then drawn keys with drawn values.
        foreach (string key in keys.Concat(Pick(random, keys, 40)))
        {
            string value = HostileValues[random.Next(HostileValues.Length)];
            yield return DryRun($"set {key}={Shorten(value)}", "--set", $"{key}={value}");
        }

        // The known crash paths and bounds, always present.
        yield return DryRun("set sft.task_weights.geometry=2", "--set", "sft.task_weights.geometry=2");
        yield return DryRun("kl=null", true, "--set", "kl=null");
        yield return DryRun("sft.tasks=null", true, "--set", "sft.tasks=null");
        yield return DryRun("rollouts=null", true, "--set", "rollouts=null");
        yield return DryRun("huge prompts_per_step", true, "--set", "prompts_per_step=1000000");
        yield return DryRun("huge group", true, "--set", "group_size=100000");
        yield return DryRun("step past the memory budget", true, "--set", "prompts_per_step=1024", "--set", "group_size=8");
        yield return new HostileCase("sft batch past the memory budget", ["sft", "--dry-run", "--output", "out", "--set", "sft.batch_size=1024"], true);
        yield return DryRun("huge model", true, "--set", "model.d_model=4096", "--set", "model.layers=64");
        yield return DryRun("huge threads", true, "--set", "threads=100000");
        yield return DryRun("duplicate key in --set", true, "--set", "kl={\"kind\":\"fixed\",\"kind\":\"dynamic\"}");
        yield return DryRun("--set without =", true, "--set", "steps");
        yield return DryRun("--set =value", true, "--set", "=3");
        yield return DryRun("unknown key", true, "--set", "no_such_key=1");
        yield return DryRun("unknown group", true, "--set", "nope.steps=1");
        yield return DryRun("repeated --steps", true, "--steps", "2", "--steps", "3");
        yield return DryRun("unknown preset", true, "--preset", "nope");
        yield return new HostileCase("output is a file", ["train", "--dry-run", "--set", "output_directory=\"data/good.jsonl\""], true);
        yield return new HostileCase("sft output is a file", ["sft", "--dry-run", "--output", "data/good.jsonl"], true);
        yield return DryRun("output unwritable", true, "--output", "/proc/grid-hostile");
        yield return DryRun("output with newline", true, "--output", "a\nb");
        yield return new HostileCase("output with spaces", ["train", "--dry-run", "--preset", "smoke", "--output", "runs with spaces"]);
        yield return DryRun("init_checkpoint is a run folder", true, "--set", "init_checkpoint=\"runs\"");
    }

    private HostileCase DryRun(string name, params string[] arguments) => DryRun(name, false, arguments);

    private HostileCase DryRun(string name, bool mustRefuse, params string[] arguments) =>
        new(name, ["train", "--dry-run", "--preset", "smoke", "--output", "out", .. arguments], mustRefuse);

    /// <summary>
    /// Every leaf and group key of the settings model, dotted, from the resolved settings `grid train --dry-run` prints:
    /// a key added to the model is covered without changing this test.
    /// </summary>
    private async Task<string[]> SettingsKeysAsync(CancellationToken cancellation)
    {
        var dryRun = await RunToEndAsync("keys", cancellation, "train", "--dry-run", "--preset", "smoke", "--output", "out");
        Assert.True(dryRun.ExitCode == 0, dryRun.Output);
        string json = dryRun.Output[..(dryRun.Output.LastIndexOf('}') + 1)];
        var keys = new List<string>();
        void Walk(JsonObject node, string prefix)
        {
            foreach (var (key, value) in node)
            {
                keys.Add(prefix + key);
                if (value is JsonObject child && key != "task_weights")
                {
                    Walk(child, prefix + key + ".");
                }
            }
        }

        Walk(JsonNode.Parse(json)!.AsObject(), "");
        Assert.Contains("kl.beta_max", keys);
        Assert.Contains("model.d_model", keys);
        return [.. keys];
    }

    // ---------------------------------------------------------------- settings files

    private IEnumerable<HostileCase> ConfigFileCases(Random random, string[] keys)
    {
        HostileCase Config(string name, bool mustRefuse, Action<string> write)
        {
            string path = Path.Combine(Work, "configs", $"{Slug(name)}.json");
            return new HostileCase($"config {name}", ["train", "--dry-run", "--preset", "smoke", "--output", "out", "--config", path],
                mustRefuse, () =>
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    write(path);
                });
        }

        yield return Config("key twice", true, p => File.WriteAllText(p, "{\"steps\": 3, \"steps\": 4}"));
        yield return Config("nested key twice", true, p => File.WriteAllText(p, "{\"kl\": {\"kind\": \"fixed\", \"kind\": \"fixed\"}}"));
        yield return Config("empty", true, p => File.WriteAllText(p, ""));
        yield return Config("array", true, p => File.WriteAllText(p, "[1, 2]"));
        yield return Config("binary garbage", true, p => File.WriteAllBytes(p, Bytes(random, 4096)));
        yield return Config("invalid utf8", true, p => File.WriteAllBytes(p, [(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}']));
        yield return Config("deep nesting", true, p => File.WriteAllText(p, new string('[', 5000) + new string(']', 5000)));
        yield return Config("two megabytes", true, p => File.WriteAllText(p, "{\"name\": \"" + new string('a', 2 << 20) + "\"}"));
        yield return Config("is a folder", true, p => Directory.CreateDirectory(p));
        yield return new HostileCase("config missing", ["train", "--dry-run", "--config", Path.Combine(Work, "no-such.json")], true);
        foreach (string key in Pick(random, keys, 12))
        {
            string value = HostileValues[random.Next(HostileValues.Length)];
            yield return Config($"{key} {Shorten(value)}", false, p => File.WriteAllText(p, Nest(key, value)));
        }
    }

    /// <summary>"a.b" and a JSON value as {"a": {"b": value}}, the value kept verbatim (it may be invalid JSON).</summary>
    private static string Nest(string key, string value)
    {
        var parts = key.Split('.');
        string json = value.Length == 0 ? "\"\"" : value;
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            json = $"{{\"{parts[i]}\": {json}}}";
        }

        return json;
    }

    // ---------------------------------------------------------------- checkpoints

    private IEnumerable<HostileCase> CheckpointCases(Random random, string good)
    {
        HostileCase Mutated(string name, bool mustRefuse, Action<string> mutate, bool rehash = true)
        {
            string folder = Path.Combine(Work, "checkpoints", Slug(name));
            return new HostileCase($"checkpoint {name}", ["eval", folder, "--prompts", "1", "--max-new-tokens", "4"], mustRefuse, () =>
            {
                CopyFolder(good, folder);
                mutate(folder);
                if (rehash)
                {
                    Rehash(folder);
                }
            });
        }

        yield return Mutated("unchanged", false, _ => { });
        yield return Mutated("weights ../x", true, f => EditManifest(f, m => m["WeightsFile"] = "../model.safetensors"), rehash: false);
        yield return Mutated("weights absolute", true, f => EditManifest(f, m => m["WeightsFile"] = "/etc/passwd"), rehash: false);
        yield return Mutated("weights symlink out", true, f =>
        {
            File.Delete(Path.Combine(f, "model.safetensors"));
            File.CreateSymbolicLink(Path.Combine(f, "model.safetensors"), "/etc/hostname");
        }, rehash: false);
        yield return Mutated("weights empty name", true, f => EditManifest(f, m => m["WeightsFile"] = ""), rehash: false);
        yield return Mutated("manifest garbage", true, f => File.WriteAllBytes(Path.Combine(f, "checkpoint.json"), Bytes(random, 300)), rehash: false);
        yield return Mutated("manifest empty", true, f => File.WriteAllText(Path.Combine(f, "checkpoint.json"), ""), rehash: false);
        yield return Mutated("manifest null", true, f => File.WriteAllText(Path.Combine(f, "checkpoint.json"), "null"), rehash: false);
        yield return Mutated("manifest missing", true, f => File.Delete(Path.Combine(f, "checkpoint.json")), rehash: false);
        yield return Mutated("config garbage", true, f => File.WriteAllText(Path.Combine(f, "config.json"), "[1,"), rehash: false);
        yield return Mutated("weights missing", true, f => File.Delete(Path.Combine(f, "model.safetensors")), rehash: false);
        yield return Mutated("weights bytes huge", true, f => EditManifest(f, m => m["WeightsBytes"] = long.MaxValue), rehash: false);
        yield return Mutated("weights bytes negative", true, f => EditManifest(f, m => m["WeightsBytes"] = -5), rehash: false);
        yield return Mutated("sha wrong", true, f => EditManifest(f, m => m["WeightsSha256"] = new string('0', 64)), rehash: false);
        yield return Mutated("header length past file", true, f => EditWeights(f, w => BinaryPrimitives.WriteUInt64LittleEndian(w, (ulong)w.Length * 4)));
        yield return Mutated("header length negative", true, f => EditWeights(f, w => BinaryPrimitives.WriteInt64LittleEndian(w, -8)));
        yield return Mutated("offsets past file", true, f => EditHeader(f, (_, t) => t["data_offsets"]![1] = 1L << 40));
        yield return Mutated("offsets overlap", true, f => EditHeader(f, (i, t) =>
        {
            if (i == 1)
            {
                long length = (long)t["data_offsets"]![1]! - (long)t["data_offsets"]![0]!;
                t["data_offsets"] = new JsonArray(0, length);
            }
        }));
        yield return Mutated("dtype F16", true, f => EditHeader(f, (_, t) => t["dtype"] = "F16"));
        yield return Mutated("shape negative", true, f => EditHeader(f, (_, t) => t["shape"] = new JsonArray(-1, 4)));
        yield return Mutated("shape huge", true, f => EditHeader(f, (_, t) => t["shape"] = new JsonArray(1L << 40, 1L << 40)));
        yield return Mutated("shape wrong", true, f => EditHeader(f, (_, t) => t["shape"] = new JsonArray(1)));
        yield return Mutated("truncated", true, f => EditWeights(f, w => { }, cut: 0.5));
        foreach (var (name, value) in new (string, JsonNode)[]
                 {
                     ("DModel", -1), ("DModel", 1 << 20), ("Layers", 0), ("Layers", 100000), ("Heads", 0), ("VocabSize", int.MaxValue),
                     ("MaxSequenceLength", int.MaxValue), ("ImageSize", 1 << 20), ("PatchSize", 0), ("Dropout", 2), ("StemChannels", 1 << 20),
                 })
        {
            yield return Mutated($"config {name}={value}", true, f =>
            {
                EditManifest(f, m => m["Config"]![name] = value.DeepClone());
                File.Delete(Path.Combine(f, "config.json"));
            }, rehash: false);
        }

        for (int i = 0; i < 5; i++)
        {
            int seed = random.Next();
            yield return Mutated($"random header bytes {i}", false, f => EditWeights(f, w =>
            {
                var r = new Random(seed);
                int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(w);
                for (int flip = 0; flip < 4; flip++)
                {
                    w[8 + r.Next(headerLength)] = (byte)r.Next(256);
                }
            }));
        }

        yield return new HostileCase("eval a run folder", ["eval", Path.Combine(Work, "runs")], true);
        yield return new HostileCase("eval a file", ["eval", Path.Combine(Work, "data", "good.jsonl")], true);
        yield return new HostileCase("eval nothing there", ["eval", Path.Combine(Work, "no such folder")], true);
        yield return new HostileCase("eval output unwritable", ["eval", good, "--prompts", "1", "-o", "/proc/grid-report.json"], true);
        yield return new HostileCase("eval output is a folder", ["eval", good, "--prompts", "1", "-o", Work], true);
        yield return new HostileCase("eval output in a missing folder", ["eval", good, "--prompts", "1", "-o", Path.Combine(Work, "nope", "r.json")], true);
        yield return new HostileCase("eval prompts huge", ["eval", good, "--prompts", "1000000000"], true);
        yield return new HostileCase("eval prompts overflow", ["eval", good, "--prompts", "99999999999"], true);
        yield return new HostileCase("eval tokens 0", ["eval", good, "--max-new-tokens", "0"], true);
        yield return new HostileCase("eval tokens past the checkpoint's room", ["eval", good, "--prompts", "1", "--max-new-tokens", "200"], true);
        yield return new HostileCase("eval with the checkpoint's own tokens", ["eval", good, "--prompts", "1"]);
        yield return new HostileCase("init_checkpoint without room for max_new_tokens", ["train", "--dry-run", "--preset", "smoke",
            "--output", "out", "--set", "max_new_tokens=200", "--set", $"init_checkpoint={JsonSerializer.Serialize(good)}"], true);
        string escaping = Path.Combine(Work, "checkpoints", "init-escaping");
        yield return new HostileCase("init_checkpoint escaping", ["train", "--dry-run", "--preset", "smoke", "--output", "out",
            "--set", $"init_checkpoint={JsonSerializer.Serialize(escaping)}"], true, () =>
            {
                CopyFolder(good, escaping);
                EditManifest(escaping, m => m["WeightsFile"] = "../../runs");
            });
    }

    // ---------------------------------------------------------------- datasets

    private IEnumerable<HostileCase> DatasetCases(Random random, string good)
    {
        string folder = Path.GetDirectoryName(good)!;
        string image = File.ReadLines(good).First() is var line ? JsonNode.Parse(line)!["image"]!.GetValue<string>() : "";
        HostileCase Dataset(string name, bool mustRefuse, Action<string> write)
        {
            string path = Path.Combine(folder, $"{Slug(name)}.jsonl");
            return new HostileCase($"dataset {name}", ["dataset", "check", path], mustRefuse, () => write(path));
        }

        string Record(string id, string imagePath, string task = "counting") =>
            JsonSerializer.Serialize(new { id, task, question = "How many?", answer = "3", image = imagePath });

        yield return Dataset("good copy", false, p => File.Copy(good, p));
        yield return Dataset("png bomb x3", true, p =>
        {
            File.WriteAllBytes(Path.Combine(folder, "images", "bomb.png"), Bomb(20000, 20000));
            File.WriteAllLines(p, [Record("a", "images/bomb.png"), Record("b", "images/bomb.png"), Record("c", "images/bomb.png")]);
        });
        yield return Dataset("png declares 100000x100000", true, p =>
        {
            File.WriteAllBytes(Path.Combine(folder, "images", "giant.png"), Bomb(100000, 100000, rows: 1));
            File.WriteAllLines(p, [Record("a", "images/giant.png")]);
        });
        yield return Dataset("png declares 0x0", true, p =>
        {
            File.WriteAllBytes(Path.Combine(folder, "images", "zero.png"), Bomb(0, 0, rows: 0));
            File.WriteAllLines(p, [Record("a", "images/zero.png")]);
        });
        for (int i = 0; i < 4; i++)
        {
            int width = random.Next(1, 70000), height = random.Next(1, 70000);
            yield return Dataset($"png declares {width}x{height}", (long)width * height > 4096L * 4096, p =>
            {
                string name = $"declared-{width}x{height}.png";
                File.WriteAllBytes(Path.Combine(folder, "images", name), Bomb(width, height, rows: 1));
                File.WriteAllLines(p, [Record("a", "images/" + name)]);
            });
        }

        yield return Dataset("png truncated", true, p =>
        {
            byte[] png = File.ReadAllBytes(Path.Combine(folder, image));
            File.WriteAllBytes(Path.Combine(folder, "images", "cut.png"), png[..(png.Length / 2)]);
            File.WriteAllLines(p, [Record("a", "images/cut.png")]);
        });
        yield return Dataset("png random bytes", true, p =>
        {
            byte[] png = File.ReadAllBytes(Path.Combine(folder, image));
            var r = new Random(random.Next());
            for (int i = 0; i < 16; i++)
            {
                png[8 + r.Next(png.Length - 8)] ^= (byte)r.Next(1, 256);
            }

            File.WriteAllBytes(Path.Combine(folder, "images", "noisy.png"), png);
            File.WriteAllLines(p, [Record("a", "images/noisy.png")]);
        });
        yield return Dataset("image not png", true, p => File.WriteAllLines(p, [Record("a", Path.GetFileName(good))]));
        yield return Dataset("image ../", true, p => File.WriteAllLines(p, [Record("a", "../" + image)]));
        yield return Dataset("image absolute", true, p => File.WriteAllLines(p, [Record("a", "/etc/hostname")]));
        yield return Dataset("image symlink out", true, p =>
        {
            File.CreateSymbolicLink(Path.Combine(folder, "images", "out.png"), "/etc/hostname");
            File.WriteAllLines(p, [Record("a", "images/out.png")]);
        });
        yield return Dataset("image is a folder", true, p => File.WriteAllLines(p, [Record("a", "images")]));
        yield return Dataset("duplicate ids", true, p => File.WriteAllLines(p, [Record("a", image), Record("a", image)]));
        yield return Dataset("unknown task", true, p => File.WriteAllLines(p, [Record("a", image, "poetry")]));
        yield return Dataset("empty", true, p => File.WriteAllText(p, ""));
        yield return Dataset("binary garbage", true, p => File.WriteAllBytes(p, Bytes(random, 100_000)));
        yield return Dataset("invalid utf8", true, p => File.WriteAllBytes(p, [.. Encoding.UTF8.GetBytes(Record("a", image)[..20]), 0xFF, 0xFE, (byte)'\n']));
        yield return Dataset("three megabyte line", true, p => File.WriteAllText(p, "{\"id\": \"" + new string('a', 3 << 20) + "\"}\n"));
        yield return Dataset("deep nesting", true, p => File.WriteAllText(p, new string('[', 100_000) + "\n"));
        yield return Dataset("field twice", true, p => File.WriteAllText(p, Record("a", image).Replace("\"answer\":\"3\"", "\"answer\":\"3\",\"answer\":\"4\"") + "\n"));
        yield return Dataset("fields wrong types", true, p => File.WriteAllText(p, "{\"id\": 1, \"task\": [], \"question\": {}, \"answer\": null, \"image\": true}\n"));
        yield return Dataset("line is a number", true, p => File.WriteAllText(p, "1e999\n"));
        for (int i = 0; i < 4; i++)
        {
            int seed = random.Next();
            yield return Dataset($"record with random bytes {i}", false, p =>
            {
                var r = new Random(seed);
                char[] text = Record("a", image).ToCharArray();
                for (int flip = 0; flip < 3; flip++)
                {
                    text[r.Next(text.Length)] = (char)r.Next(32, 127);
                }

                File.WriteAllText(p, new string(text) + "\n");
            });
        }

        yield return new HostileCase("dataset is a folder", ["dataset", "check", folder], true);
        yield return new HostileCase("dataset missing", ["dataset", "check", Path.Combine(folder, "none.jsonl")], true);
        yield return new HostileCase("dataset /dev/zero", ["dataset", "check", "/dev/zero"], true);
        yield return new HostileCase("export count huge", ["dataset", "export", "--task", "counting", "--count", "2000000000", "-o", "x.jsonl"], true);
        yield return new HostileCase("export count negative", ["dataset", "export", "--task", "counting", "--count", "-3", "-o", "x.jsonl"], true);
        yield return new HostileCase("export task unknown", ["dataset", "export", "--task", "poetry", "--count", "1", "-o", "x.jsonl"], true);
        yield return new HostileCase("export output unwritable", ["dataset", "export", "--task", "counting", "--count", "1", "-o", "/proc/x.jsonl"], true);
        yield return new HostileCase("export output a folder", ["dataset", "export", "--task", "counting", "--count", "1", "-o", Work], true);
    }

    // ---------------------------------------------------------------- command lines

    private static IEnumerable<HostileCase> CommandLineCases(string checkpoint)
    {
        yield return new HostileCase("unknown command", ["frobnicate"], true);
        yield return new HostileCase("unknown option", ["train", "--dry-run", "--frobnicate"], true);
        yield return new HostileCase("steps not a number", ["train", "--dry-run", "--steps", "many"], true);
        yield return new HostileCase("steps overflow", ["train", "--dry-run", "--steps", "99999999999"], true);
        yield return new HostileCase("seed overflow", ["train", "--dry-run", "--seed", "99999999999999999999"], true);
        yield return new HostileCase("sft dry run huge demonstrations", ["sft", "--dry-run", "--set", "sft.demonstrations=100000000"], true);
        yield return new HostileCase("bench repeats 0", ["bench", "--repeats", "0"], true);
        yield return new HostileCase("bench repeats huge", ["bench", "--repeats", "1000000"], true);
        yield return new HostileCase("bench groups huge", ["bench", "--groups-per-step", "100000000"], true);
        yield return new HostileCase("bench silos junk", ["bench", "--silos", "1,x"], true);
        yield return new HostileCase("bench suite junk", ["bench", "--suite", "nope"], true);
        yield return new HostileCase("bench json unwritable", ["bench", "--suite", "policy", "--json", "/proc/bench.json"], true);
        yield return new HostileCase("bench async staleness junk", ["bench", "--suite", "async", "--staleness", "0,abc"], true);
        yield return new HostileCase("bench async staleness beyond 16", ["bench", "--suite", "async", "--staleness", "0,99"], true);
        yield return new HostileCase("bench async rollout silos 0", ["bench", "--suite", "async", "--rollout-silos", "0"], true);
        yield return new HostileCase("bench async part junk", ["bench", "--suite", "async", "--async-part", "both,real"], true);
        yield return new HostileCase("bench async time scale NaN", ["bench", "--suite", "async", "--sim-time-scale", "NaN"], true);
        yield return new HostileCase("bench async cost NaN", ["bench", "--suite", "async", "--gen-ms-per-token", "NaN"], true);
        yield return new HostileCase("bench async cost infinite", ["bench", "--suite", "async", "--learner-ms-per-sample", "Infinity"], true);
        yield return new HostileCase("bench async tokens huge", ["bench", "--suite", "async", "--sim-tokens-per-completion", "1e300"], true);
        yield return new HostileCase("experiment seeds 0", ["experiment", "--seeds", "0"], true);
        yield return new HostileCase("experiment seeds huge", ["experiment", "--seeds", "100000"], true);
        yield return new HostileCase("experiment arms junk", ["experiment", "--arms", "nope"], true);
        yield return new HostileCase("experiment name junk", ["experiment", "--name", "../x"], true);
        yield return new HostileCase("experiment name overlong", ["experiment", "--name", new string('a', 300), "--output", "experiments"], true);
        yield return new HostileCase("experiment output unwritable", ["experiment", "--output", "/proc/experiments"], true);
        yield return new HostileCase("experiment base is a file", ["experiment", "--base", "/etc/hostname"], true);
        yield return new HostileCase("experiment base mutated", ["experiment", "--base", Path.Combine(Path.GetDirectoryName(checkpoint)!, "..", "..", "nope")], true);
        yield return new HostileCase("status gateway junk", ["status", "x", "--gateway", "x"], true);
        yield return new HostileCase("status empty run", ["status", ""], true);
        yield return new HostileCase("status run with newline", ["status", "a\nb"], true);
        yield return new HostileCase("resume blank run", ["resume", "   "], true);
        yield return new HostileCase("resume a folder path", ["resume", "./"], true);
        yield return new HostileCase("status a folder that is not a run folder", ["status", "./"], true);
        yield return new HostileCase("dataset export unknown task", ["dataset", "export", "--task", "colors", "-o", "data/colors.jsonl"], true);
        yield return new HostileCase("experiment base empty", ["experiment", "--base", ""], true);
        yield return new HostileCase("experiment base with a newline", ["experiment", "--base", "a\nb"], true);
        yield return new HostileCase("eval a missing path", ["eval", "no-such-checkpoint"], true);
        yield return new HostileCase("submit empty run id", ["submit", "--preset", "smoke", "--output", "out", "--run-id", ""], true);
    }

    // ---------------------------------------------------------------- hostile paths

    /// <summary>A refusal at the edge takes the runtime's start and a check; a read that hangs takes the case's timeout.</summary>
    private const double PathCaseSeconds = 15;

    /// <summary>How a path reaches grid: as an argument (no NUL can be passed there) or inside JSON (any character can).</summary>
    private enum PathSyntax
    {
        Argument,
        Json,
    }

    /// <summary>
    /// One place a command takes a path: <see cref="Arguments"/> turns the hostile path into grid's arguments inside the
    /// case's own folder, and <see cref="Setup"/> writes whatever file carries the path. An output takes only the classes
    /// no writer may accept; a fixed file name (a run folder's metrics.jsonl) takes only classes made at that name; a
    /// <see cref="KindOnly"/> slot (a dry run's dataset settings) checks the file's kind, not its content.
    /// </summary>
    private sealed record PathSlot(string Name, PathSyntax Syntax, Func<string, string, string[]> Arguments,
        Action<string, string>? Setup = null, bool Output = false, bool FixedName = false, bool MissingIsValid = false,
        Func<string, string>? Target = null, bool KindOnly = false);

    /// <summary>
    /// A class of hostile path: <see cref="PathFor"/> gives the path for the slot's target, <see cref="Create"/> makes the
    /// object there (null when nothing is made).
    /// </summary>
    private sealed record PathClass(string Name, Func<string, string> PathFor, Action<string>? Create = null,
        bool ChangesName = false, bool JsonOnly = false, bool ForOutputs = false, bool Content = false)
    {
        public bool AtTarget => !ChangesName && PathFor("target") == "target";
    }

    private static readonly PathClass[] PathClasses =
    [
        new("NUL", t => Insert(t, '\0'), ChangesName: true, JsonOnly: true),
        new("U+0001", t => Insert(t, '\u0001'), ChangesName: true, ForOutputs: true),
        new("newline", t => Insert(t, '\n'), ChangesName: true, ForOutputs: true),
        new("escape", t => Insert(t, '\u001b'), ChangesName: true, ForOutputs: true),
        new("DEL", t => Insert(t, '\u007f'), ChangesName: true),
        new("FIFO", t => t, MakeFifo, ForOutputs: true),
        new("link to a FIFO", t => t, t =>
        {
            MakeFifo(t + ".fifo");
            File.CreateSymbolicLink(t, Path.GetFileName(t) + ".fifo");
        }, ForOutputs: true),
        new("socket", t => t, MakeSocket, ForOutputs: true),
        new("/dev/zero", _ => "/dev/zero"),
        new("link to /dev/zero", t => t, t => File.CreateSymbolicLink(t, "/dev/zero")),
        new("/dev/urandom", _ => "/dev/urandom"),
        new("folder", t => t, t => Directory.CreateDirectory(Path.Combine(t, "inside"))),
        new("missing", t => t + ".missing"),
        new("unreadable", Content: true, PathFor: t => t, Create: t =>
        {
            File.WriteAllText(t, "not what it should be\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(t, UnixFileMode.None);
            }
        }),
        new("symlink loop", t => t, t =>
        {
            File.CreateSymbolicLink(t, Path.GetFileName(t) + ".other");
            File.CreateSymbolicLink(t + ".other", Path.GetFileName(t));
        }, ForOutputs: true),
        new("huge sparse file", Content: true, PathFor: t => t, Create: t =>
        {
            using var file = new FileStream(t, FileMode.CreateNew);
            file.SetLength(16L << 30);
        }),
    ];

    /// <summary>Every command's path arguments. A command added with a path argument gets a line here.</summary>
    private static IReadOnlyList<PathSlot> PathSlots(string checkpoint, string dataset)
    {
        string[] DryRun(string command, string folder, params string[] more) =>
            [command, "--dry-run", "--preset", "smoke", "--output", Path.Combine(folder, "out"), .. more];
        string[] Eval(params string[] more) => ["eval", .. more, "--prompts", "1", "--max-new-tokens", "4"];
        string Config(string folder) => Path.Combine(folder, "run.json");
        string Copy(string folder) => Path.Combine(folder, "checkpoint");
        string Jsonl(string folder) => Path.Combine(folder, "data.jsonl");
        string Run(string folder) => Path.Combine(folder, "run");

        return
        [
            new("train --config", PathSyntax.Argument, (f, p) => DryRun("train", f, "--config", p)),
            new("sft --config", PathSyntax.Argument, (f, p) => DryRun("sft", f, "--config", p)),
            new("experiment --config", PathSyntax.Argument, (f, p) => ["experiment", "--output", f, "--config", p]),
            new("train --set init_checkpoint", PathSyntax.Json, (f, p) => DryRun("train", f, "--set", $"init_checkpoint={Json(p)}")),
            new("sft init_checkpoint in --config", PathSyntax.Json, (f, p) => DryRun("sft", f, "--config", Config(f)),
                (f, p) => File.WriteAllText(Config(f), $"{{\"init_checkpoint\": {Json(p)}}}")),
            new("train --set data.train", PathSyntax.Json, (f, p) => DryRun("train", f, "--set", $"data.train={Json(p)}"), KindOnly: true),
            new("train data.eval in --config", PathSyntax.Json, (f, p) => DryRun("train", f, "--config", Config(f)),
                (f, p) => File.WriteAllText(Config(f), $"{{\"data\": {{\"train\": {Json(dataset)}, \"eval\": {Json(p)}}}}}"),
                KindOnly: true),
            new("train --set output_directory", PathSyntax.Json,
                (f, p) => ["train", "--dry-run", "--preset", "smoke", "--set", $"output_directory={Json(p)}"], Output: true),
            new("train --output", PathSyntax.Argument, (f, p) => ["train", "--dry-run", "--preset", "smoke", "--output", p], Output: true),
            new("eval CHECKPOINT", PathSyntax.Argument, (f, p) => Eval(p)),
            new("eval --data", PathSyntax.Argument, (f, p) => Eval(checkpoint, "--data", p)),
            new("eval -o", PathSyntax.Argument, (f, p) => Eval(checkpoint, "-o", p), Output: true),
            new("checkpoint weights file in checkpoint.json", PathSyntax.Json, (f, p) => Eval(Copy(f)), (f, p) =>
            {
                CopyFolder(checkpoint, Copy(f));
                File.Delete(Path.Combine(Copy(f), "model.safetensors"));
                EditManifest(Copy(f), m => m["WeightsFile"] = Relative(Copy(f), p));
            }, Target: f => Path.Combine(Copy(f), "weights.safetensors")),
            new("dataset check", PathSyntax.Argument, (f, p) => ["dataset", "check", p]),
            new("dataset import", PathSyntax.Argument,
                (f, p) => ["dataset", "import", "--format", "r1v", p, "-o", Path.Combine(f, "imported.jsonl")]),
            new("dataset export -o", PathSyntax.Argument,
                (f, p) => ["dataset", "export", "--task", "counting", "--count", "1", "-o", p], Output: true),
            new("dataset image in a record", PathSyntax.Json, (f, p) => ["dataset", "check", Jsonl(f)], (f, p) =>
            {
                string image = Relative(f, p);
                File.WriteAllText(Jsonl(f),
                    JsonSerializer.Serialize(new { id = "a", task = "counting", question = "How many?", answer = "3", image }) + "\n");
            }, Target: f => Path.Combine(f, "images", "a.png")),
            new("experiment --base", PathSyntax.Argument, (f, p) => ["experiment", "--output", f, "--base", p]),
            new("experiment --output", PathSyntax.Argument, (f, p) => ["experiment", "--output", p], Output: true),
            new("bench --json", PathSyntax.Argument, (f, p) => ["bench", "--suite", "policy", "--json", p], Output: true),
            new("status RUN", PathSyntax.Argument, (f, p) => ["status", p], MissingIsValid: true),
            new("status of a run folder's metrics.jsonl", PathSyntax.Argument, (f, p) => ["status", Run(f)],
                (f, p) => File.Copy(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(checkpoint)!)!, "settings.json"),
                    Path.Combine(Run(f), "settings.json")),
                FixedName: true, MissingIsValid: true, Target: f => Path.Combine(Run(f), "metrics.jsonl")),
            new("silo --settings", PathSyntax.Argument, (f, p) => ["silo", "--settings", p]),
        ];
    }

    /// <summary>Every path argument x every hostile class that applies to it, each in a folder of its own.</summary>
    private IEnumerable<HostileCase> PathCases(string checkpoint, string dataset)
    {
        int index = 0;
        foreach (var slot in PathSlots(checkpoint, dataset))
        {
            foreach (var hostile in PathClasses)
            {
                if ((hostile.JsonOnly && slot.Syntax != PathSyntax.Json) || (slot.Output && !hostile.ForOutputs)
                    || (slot.FixedName && !hostile.AtTarget) || (slot.KindOnly && hostile.Content)
                    || (slot.MissingIsValid && hostile.Name == "missing"))
                {
                    continue;
                }

                // Short folder names: a socket's path may have at most 108 bytes.
                string folder = Path.Combine(Work, "p", $"{index++}");
                string target = slot.Target?.Invoke(folder) ?? Path.Combine(folder, "target");
                string path = hostile.PathFor(target);
                yield return new HostileCase($"{slot.Name} <- {hostile.Name}", slot.Arguments(folder, path), true, () =>
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    slot.Setup?.Invoke(folder, path);
                    hostile.Create?.Invoke(target);
                });
            }
        }
    }

    /// <summary><paramref name="path"/> with <paramref name="c"/> in its file name.</summary>
    private static string Insert(string path, char c) => Path.Combine(Path.GetDirectoryName(path)!, $"a{c}{Path.GetFileName(path)}");

    private static string Json(string text) => JsonSerializer.Serialize(text);

    /// <summary><paramref name="path"/> relative to <paramref name="folder"/> when inside it, else as it is (by text: it may hold NUL).</summary>
    private static string Relative(string folder, string path) =>
        path.StartsWith(folder + "/", StringComparison.Ordinal) ? path[(folder.Length + 1)..] : path;

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    /// <summary>Bound sockets, open until the test class is done: disposing one deletes its file.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentBag<System.Net.Sockets.Socket> s_sockets = [];

    private static void MakeSocket(string path)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix,
            System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        s_sockets.Add(socket);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
    }

    // ---------------------------------------------------------------- running

    private async Task<(int Exit, double Seconds, long PeakRss, string Output)> RunAsync(HostileCase hostile, CancellationToken cancellation)
    {
        hostile.Prepare?.Invoke();
        var clock = Stopwatch.StartNew();
        await using var process = GridProcess.Start(hostile.Name, Work, new Dictionary<string, string?>(), hostile.Arguments);
        long peak = 0;
        while (!process.HasExited && clock.Elapsed < CaseTimeout)
        {
            peak = Math.Max(peak, process.PeakRssBytes());
            await Task.Delay(20, cancellation);
        }

        if (!process.HasExited)
        {
            return (-1, clock.Elapsed.TotalSeconds, peak, process.Output + "\n(killed: it ran past the time bound)");
        }

        int exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellation);
        return (exit, clock.Elapsed.TotalSeconds, peak, process.Output);
    }

    private async Task<GridProcess> RunToEndAsync(string name, CancellationToken cancellation, params string[] arguments)
    {
        var process = _processes.Start(name, new Dictionary<string, string?>(), arguments);
        await process.WaitForExitAsync(TimeSpan.FromMinutes(2), cancellation);
        return process;
    }

    private async Task<string> MakeCheckpointAsync(CancellationToken cancellation)
    {
        var sft = await RunToEndAsync("sft", cancellation,
            "sft", "--preset", "smoke", "--set", "sft.steps=1", "--set", "eval_prompts=1", "--output", "runs");
        Assert.True(sft.ExitCode == 0, sft.Output);
        return Assert.Single(Directory.GetDirectories(Path.Combine(Work, "runs"), "sft", SearchOption.AllDirectories));
    }

    private async Task<string> MakeDatasetAsync(CancellationToken cancellation)
    {
        var export = await RunToEndAsync("export", cancellation,
            "dataset", "export", "--task", "counting", "--count", "2", "--output", "data/good.jsonl");
        Assert.True(export.ExitCode == 0, export.Output);
        return Path.Combine(Work, "data", "good.jsonl");
    }

    // ---------------------------------------------------------------- file helpers

    private static void EditManifest(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "checkpoint.json");
        var manifest = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(manifest);
        File.WriteAllText(path, manifest.ToJsonString());
    }

    private static void EditWeights(string folder, Action<byte[]> edit, double cut = 1)
    {
        string path = Path.Combine(folder, "model.safetensors");
        byte[] weights = File.ReadAllBytes(path);
        edit(weights);
        File.WriteAllBytes(path, weights[..(int)(weights.Length * cut)]);
    }

    /// <summary>Rewrites the safetensors header with <paramref name="edit"/> applied to the first two tensors' entries.</summary>
    private static void EditHeader(string folder, Action<int, JsonObject> edit)
    {
        string path = Path.Combine(folder, "model.safetensors");
        File.WriteAllBytes(path, HostileFiles.EditSafetensorsHeader(File.ReadAllBytes(path), edit));
    }

    /// <summary>Records the weights' current size and sha256 in the manifest, so the mutation itself is what is tested.</summary>
    private static void Rehash(string folder)
    {
        string weights = Path.Combine(folder, "model.safetensors");
        if (!File.Exists(weights))
        {
            return;
        }

        byte[] bytes = File.ReadAllBytes(weights);
        EditManifest(folder, m =>
        {
            m["WeightsSha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes));
            m["WeightsBytes"] = bytes.LongLength;
        });
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    private static byte[] Bytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private static IEnumerable<T> Pick<T>(Random random, IReadOnlyList<T> from, int count) =>
        Enumerable.Range(0, count).Select(_ => from[random.Next(from.Count)]).Distinct();

    private static string Slug(string name) => SlugPattern().Replace(name, "-");

    private static string Shorten(string text) => text.Length <= 24 ? text : text[..20] + $"…({text.Length})";

    private static string Show(string argument) =>
        argument.Length > 60 ? $"'{argument[..50]}…({argument.Length})'" : argument.Any(char.IsWhiteSpace) ? $"'{argument}'" : argument;

    [GeneratedRegex(@"^\s+at .*\(", RegexOptions.Multiline)]
    private static partial Regex StackTrace();

    [GeneratedRegex("[^A-Za-z0-9_-]+")]
    private static partial Regex SlugPattern();

    public async ValueTask DisposeAsync()
    {
        while (s_sockets.TryTake(out var socket))
        {
            socket.Dispose();
        }

        await _processes.DisposeAsync();
    }
}
