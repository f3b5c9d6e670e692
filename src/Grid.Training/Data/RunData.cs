using System.Collections.Concurrent;
using Grid.Core.Settings;
using Grid.Policy.Checkpoints;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Tasks.Datasets;
using Grid.Tasks.Rewards;
using Grid.Training.Rollouts;

namespace Grid.Training.Data;

/// <summary>
/// What a run trains and evaluates on, and with which tokenizer: the built-in generators (the default, unchanged) or a
/// dataset of the user's own (the <c>data</c> settings). For a dataset, GRPO-D draws prompts from the train part, SFT
/// demonstrates its first <c>sft.demonstrations</c> records, and validation and evaluation read the eval part (one
/// task per task name in it); text is tokenized with <see cref="Tokenizer.ByteFallback"/> so any UTF-8 is representable.
/// </summary>
public sealed class RunData
{
    private RunData(Tokenizer tokenizer, IVisualTask trainTask, IReadOnlyList<IVisualTask> sftTasks,
        IReadOnlyList<IVisualTask> evalTasks, DatasetRecord? record)
    {
        Tokenizer = tokenizer;
        TrainTask = trainTask;
        SftTasks = sftTasks;
        EvalTasks = evalTasks;
        Record = record;
    }

    /// <summary>The tokenizer of the run's policy and every checkpoint it writes.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>The task GRPO-D draws its prompts from.</summary>
    public IVisualTask TrainTask { get; }

    /// <summary>The tasks SFT demonstrates.</summary>
    public IReadOnlyList<IVisualTask> SftTasks { get; }

    /// <summary>The tasks validated and evaluated, each reported on its own.</summary>
    public IReadOnlyList<IVisualTask> EvalTasks { get; }

    /// <summary>The files and sizes of a dataset run, for the run folder's data.json; null on the built-in tasks.</summary>
    public DatasetRecord? Record { get; }

    /// <summary>The run trains on a dataset of its own.</summary>
    public bool IsDataset => Record is not null;

    /// <summary>The name evaluation reports as the trained task.</summary>
    public string TrainedTask => TrainTask.Name;

    /// <summary>The data of <paramref name="settings"/>: the built-in tasks unless <c>data.train</c> is set.</summary>
    /// <exception cref="DatasetFormatException">A record is refused, an example does not fit the policy, or train and
    /// eval share an id.</exception>
    public static RunData For(RunSettings settings, int imageSize = 48)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Data.IsSet)
        {
            return new RunData(TokenizerFor(settings), TaskCatalog.Get(settings.Task),
                [.. settings.Sft.Tasks.Select(TaskCatalog.Get)], TaskCatalog.All, null);
        }

        var d = settings.Data;
        var options = new DatasetReadOptions(AnswerRule: RuleOf(d), ImageSize: imageSize);
        var train = Load(d.Train!, options, settings.MaxNewTokens);
        List<DatasetExample> eval;
        IReadOnlyList<DatasetFileDigest>? evalFiles = null;
        if (d.Eval is not null)
        {
            var loaded = Load(d.Eval, options, settings.MaxNewTokens);
            (eval, evalFiles) = (loaded.Examples, loaded.Files);
            var trainIds = train.Examples.ToDictionary(e => e.Id, StringComparer.Ordinal);
            if (eval.FirstOrDefault(e => trainIds.ContainsKey(e.Id)) is { } shared)
            {
                throw new DatasetFormatException(d.Eval, eval.IndexOf(shared) + 1,
                    $"id \"{shared.Id}\" is also in the train file {Path.GetFullPath(d.Train!)}: train and eval must not share an "
                    + "example. Remove it from one of them, or leave data.eval out to split data.train by data.eval_fraction.");
            }
        }
        else
        {
            eval = [.. train.Examples.Where(e => DatasetSplit.IsEval(e.Id, d.SplitSeed, d.EvalFraction))];
            train = train with { Examples = [.. train.Examples.Where(e => !DatasetSplit.IsEval(e.Id, d.SplitSeed, d.EvalFraction))] };
            if (eval.Count == 0 || train.Examples.Count == 0)
            {
                throw new DatasetFormatException(d.Train!, 1,
                    $"splitting its records by data.eval_fraction {d.EvalFraction} and data.split_seed {d.SplitSeed} leaves "
                    + $"{train.Examples.Count} for training and {eval.Count} for evaluation; both need at least one. Change "
                    + "data.eval_fraction, add records, or give an eval file with data.eval.");
            }
        }

        var trainNames = train.Examples.Select(e => e.Task).Distinct(StringComparer.Ordinal).ToArray();
        // One bounded cache of decoded images for the run's train and eval tasks: the records hold no pixels.
        var images = new DatasetImageCache(options);
        var trainTask = new DatasetTask(trainNames.Length == 1 ? trainNames[0] : "dataset", imageSize, train.Examples, images);
        var evalTasks = eval.GroupBy(e => e.Task, StringComparer.Ordinal)
            .Select(g => (IVisualTask)new DatasetTask(g.Key, imageSize, [.. g], images)).ToArray();
        var record = new DatasetRecord(train.Files, evalFiles,
            d.Eval is null ? new DatasetSplitRecord(d.EvalFraction, d.SplitSeed) : null,
            train.Examples.Count, eval.Count, Tokenizer.ByteFallback.Name);
        return new RunData(TokenizerFor(settings), trainTask, [trainTask], evalTasks, record);
    }

    /// <summary>Every record of the dataset <c>data.train</c> names, as held-out tasks (one per task name, file order), for
    /// <c>grid eval --data</c>.</summary>
    public static IReadOnlyList<IVisualTask> AllHeldOut(RunSettings settings, int imageSize)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var d = settings.Data;
        var options = new DatasetReadOptions(AnswerRule: RuleOf(d), ImageSize: imageSize);
        var examples = Load(d.Train!, options, maxNewTokens: null).Examples;
        var images = new DatasetImageCache(options);
        return [.. examples.GroupBy(e => e.Task, StringComparer.Ordinal)
            .Select(g => (IVisualTask)new DatasetTask(g.Key, imageSize, [.. g], images))];
    }

    /// <summary>The SFT demonstrations: of the built-in tasks, each task's stream as before; of a dataset, its first
    /// <paramref name="count"/> train records in file order.</summary>
    public IReadOnlyList<TaskExample> Demonstrations(PromptSource source, int count) => IsDataset
        ? [.. ((DatasetTask)TrainTask).Examples.Take(count)]
        : [.. SftTasks.SelectMany(t => Enumerable.Range(0, count).Select(i => source.Demonstration(t, i)))];

    /// <summary>How many of <paramref name="requested"/> prompts a task has to evaluate on (a dataset task: at most all).</summary>
    public static int PromptCount(IVisualTask task, int requested) =>
        task is DatasetTask dataset ? Math.Min(requested, dataset.Examples.Count) : requested;

    /// <summary>The <paramref name="index"/>-th held-out prompt: a dataset task's eval records in file order.</summary>
    public static TaskExample HeldOut(IVisualTask task, int index) =>
        task is DatasetTask dataset ? dataset.Examples[index] : PromptSource.HeldOut(task, index);

    /// <summary>The <paramref name="index"/>-th validation prompt: of a dataset, the eval records as for
    /// <see cref="HeldOut"/> (a dataset has no third part).</summary>
    public static TaskExample Validation(IVisualTask task, int index) =>
        task is DatasetTask dataset ? dataset.Examples[index] : PromptSource.Validation(task, index);

    /// <summary>Stands in for a record's image between reading and keeping it, so no decoded image outlives its check.</summary>
    private static readonly Grid.Tasks.Images.RgbImage s_noPixels = new(1, 1, new byte[3]);

    private static readonly ConcurrentDictionary<(DataSettings Data, int MaxNewTokens), Lazy<RunData>> s_shared = new();

    /// <summary>
    /// As <see cref="For"/>, read once per process for the grains of one machine (the embedded grid): every prompt
    /// group and the learner of a run share one copy. A dataset that cannot be read throws here, failing the caller's
    /// attempt with the reason.
    /// </summary>
    public static RunData Shared(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Data.IsSet
            ? s_shared.GetOrAdd((settings.Data, settings.MaxNewTokens), _ => new Lazy<RunData>(() => For(settings))).Value
            : For(settings);
    }

    /// <summary>The tokenizer of a run with <paramref name="settings"/>, without reading its data.</summary>
    public static Tokenizer TokenizerFor(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Data.IsSet ? Tokenizer.ByteFallback : Tokenizer.Default;
    }

    /// <summary>The tokenizer a checkpoint was trained with (an unknown one: the default, which loading then refuses).</summary>
    public static Tokenizer TokenizerOf(string checkpoint) =>
        Tokenizer.Find(PolicyCheckpoint.ReadManifest(checkpoint).TokenizerOrDefault.Name) ?? Tokenizer.Default;

    /// <summary>How the files of <paramref name="data"/> are read: its answer kind and tolerance, the policy's image size.</summary>
    public static DatasetReadOptions ReadOptions(DataSettings data, int imageSize = 48)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new DatasetReadOptions(AnswerRule: RuleOf(data), ImageSize: imageSize);
    }

    private static AnswerRule? RuleOf(DataSettings d)
    {
        if (d.AnswerKind is null)
        {
            return null;
        }

        AnswerRule.TryParseKind(d.AnswerKind, out var kind);
        return new AnswerRule(kind, (decimal)(d.Tolerance ?? 0));
    }

    private sealed record Loaded(List<DatasetExample> Examples, IReadOnlyList<DatasetFileDigest> Files);

    /// <summary>
    /// Every record of the file, checked as <see cref="DatasetReader.ReadEntries"/> checks it (each image decoded once,
    /// so a damaged one is refused here) and as the policy needs, kept without its pixels: the image is named by its
    /// file, size and sha256, and decoded again when drawn.
    /// </summary>
    private static Loaded Load(string path, DatasetReadOptions options, int? maxNewTokens)
    {
        var records = new List<(TaskExample Example, int Line, string ImageFile)>();
        var images = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (example, line, imageFile) in DatasetReader.ReadEntries(path, options))
        {
            int prompt = PromptFormat.EncodePrompt(example.Question, Tokenizer.ByteFallback).Length;
            if (prompt > PolicyRuntime.MaxPromptTokens)
            {
                throw new DatasetFormatException(path, line,
                    $"the question is {prompt} tokens long with BOS (each character outside printable ASCII counts one token "
                    + $"per UTF-8 byte); the policy reads at most {PolicyRuntime.MaxPromptTokens}. Shorten the question.");
            }

            int completion = PromptFormat.EncodeCompletion(example.ReferenceCompletion, Tokenizer.ByteFallback).Length;
            if (prompt + completion > PolicyRuntime.MaxPromptTokens + maxNewTokens)
            {
                throw new DatasetFormatException(path, line,
                    $"the question and the reference completion {example.ReferenceCompletion} are {prompt + completion} tokens "
                    + $"with BOS and EOS; the policy has room for {PolicyRuntime.MaxPromptTokens} + max_new_tokens "
                    + $"({maxNewTokens}). Raise max_new_tokens or shorten the record's reasoning or answer.");
            }

            if (seen.Add(imageFile))
            {
                images.Add(imageFile);
            }

            // Drop the pixels: keep the record's text and its image's path.
            records.Add((example with { Image = s_noPixels }, line, imageFile));
        }

        var digests = images.Select(DatasetFiles.Of).ToArray();
        var files = new Dictionary<string, DatasetImageFile>(StringComparer.Ordinal);
        for (int i = 0; i < images.Count; i++)
        {
            files[images[i]] = new DatasetImageFile(images[i], digests[i].Bytes, digests[i].Sha256);
        }

        var examples = records.Select(r => new DatasetExample(r.Example.Id, r.Example.Task, r.Example.Question,
            r.Example.Answer, r.Example.Reasoning, r.Example.AnswerRule, files[r.ImageFile], path, r.Line)).ToList();
        return new Loaded(examples, [DatasetFiles.Of(path), .. digests]);
    }
}

/// <summary>What a run on a dataset used, as its run folder's data.json records it.</summary>
/// <param name="Train">The train JSONL file and then each image it uses, with sha256 and size.</param>
/// <param name="Eval">The same for the eval file; null when the train file was split.</param>
/// <param name="Split">The split of the train file when there is no eval file.</param>
/// <param name="TrainExamples">Examples trained on (after the split).</param>
/// <param name="EvalExamples">Examples held out for validation and evaluation.</param>
/// <param name="Tokenizer">The tokenizer's name.</param>
public sealed record DatasetRecord(IReadOnlyList<DatasetFileDigest> Train, IReadOnlyList<DatasetFileDigest>? Eval,
    DatasetSplitRecord? Split, int TrainExamples, int EvalExamples, string Tokenizer);

/// <summary>The eval fraction and seed a train file was split by.</summary>
public sealed record DatasetSplitRecord(double EvalFraction, long Seed);
