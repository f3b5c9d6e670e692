using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Policy.Tokenization;
using Grid.Training.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Training;

/// <summary>Creating, copying and configuring policies for a run.</summary>
public static class PolicyRuntime
{
    /// <summary>Room for the prompt's text: BOS and a question of the built-in tasks, with margin.</summary>
    public const int MaxPromptTokens = 64;

    /// <summary>Sets torch's intra-op threads (0 = one per core) and its global seed.</summary>
    public static void Configure(int threads, long seed)
    {
        UseThreads(threads);
        manual_seed(seed);
    }

    /// <summary>
    /// Sets torch's intra-op threads (0 = one per core) for the calling thread, and as the default of threads that
    /// first run torch later. Every thread that owns torch work calls it first: left unset, a thread takes its OpenMP
    /// and MKL thread counts from their own defaults (MKL's dynamic threading on), not from the run's settings.
    /// </summary>
    public static void UseThreads(int threads) => set_num_threads(threads > 0 ? threads : Environment.ProcessorCount);

    /// <param name="tokenizer">The run's tokenizer, which sets the vocabulary size; default <see cref="Tokenizer.Default"/>.</param>
    public static PolicyConfig ConfigFor(ModelSettings model, int maxNewTokens, Tokenizer? tokenizer = null)
    {
        var shape = new PolicyConfig(DModel: model.DModel, Layers: model.Layers, Heads: model.Heads,
            PatchSize: model.PatchSize, StemChannels: model.StemChannels, VocabSize: (tokenizer ?? Tokenizer.Default).VocabSize);
        return (shape with { MaxSequenceLength = shape.PatchCount + MaxPromptTokens + maxNewTokens }).Validate();
    }

    /// <summary>A freshly initialised policy, deterministic from <paramref name="seed"/>.</summary>
    public static (VisionLanguagePolicy Policy, PolicyConfig Config) CreatePolicy(ModelSettings model, int maxNewTokens, long seed,
        Tokenizer? tokenizer = null)
    {
        var config = ConfigFor(model, maxNewTokens, tokenizer);
        return (new VisionLanguagePolicy(config, seed), config);
    }

    /// <summary>
    /// The device a learner pins itself to: CUDA device 0 when the silo declares GPUs and CUDA is available (a
    /// TorchSharp-cuda build), else the CPU (<see cref="LearnerDeviceChoice"/> has the rule and its log line). Code stays
    /// device-agnostic: tensors are created on the policy's device.
    /// </summary>
    public static Device LearnerDevice(int declaredGpus) => LearnerDeviceChoice.Probe(declaredGpus).Device;

    /// <summary>A frozen copy (eval mode, no gradients): the reference policy pi_ref.</summary>
    public static VisionLanguagePolicy FrozenCopy(VisionLanguagePolicy policy, PolicyConfig config)
    {
        var copy = new VisionLanguagePolicy(config);
        PolicyCheckpoint.CopyWeights(policy, copy);
        copy.eval();
        foreach (var p in copy.parameters())
        {
            p.requires_grad = false;
        }

        return copy;
    }
}
