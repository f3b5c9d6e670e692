using Grid.Core.Settings;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Policy.Qwen;
using Grid.Policy.Tokenization;

namespace Grid.Training;

/// <summary>
/// A run's policy with what it reads and writes text through: Grid's own small model (created from the model
/// settings or loaded from one of Grid's checkpoints, with the run's character tokenizer), or a Hugging Face Qwen2-VL /
/// Qwen2.5-VL checkpoint named by init_checkpoint (its own tokenizer, chat template and image processor). Everything
/// that trains, samples, evaluates or saves a run's policy goes through this, so neither kind is special anywhere else.
/// </summary>
public sealed class RunPolicy : IDisposable
{
    private readonly Tokenizer _tokenizer;

    private RunPolicy(PolicyModel model, IPromptCodec codec, Tokenizer tokenizer, PolicyConfig config)
    {
        Model = model;
        Codec = codec;
        _tokenizer = tokenizer;
        Config = config;
    }

    public PolicyModel Model { get; }

    /// <summary>How the policy encodes prompts and completions and decodes its answers.</summary>
    public IPromptCodec Codec { get; }

    /// <summary>What every silo builds the policy from: the small model's shape, or the Hugging Face folder.</summary>
    public PolicyConfig Config { get; }

    /// <summary>The Hugging Face folder the policy came from (config, tokenizer and processor files); null for Grid's own.</summary>
    public string? HubFolder => Config.HubCheckpoint;

    public bool IsHuggingFace => HubFolder is not null;

    /// <summary>
    /// The run's starting policy: init_checkpoint when set (a Hugging Face folder or one of Grid's checkpoints), else a
    /// fresh small model drawn from the run seed. <paramref name="tokenizer"/> is the run's (Grid's own policy only).
    /// </summary>
    public static RunPolicy Create(RunSettings settings, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (settings.InitCheckpoint is { } checkpoint && PolicyFolder.IsHuggingFace(checkpoint))
        {
            return LoadHuggingFace(checkpoint, settings.Model.FreezeVision);
        }

        if (settings.Model.FreezeVision)
        {
            throw new InvalidSettingException("model.freeze_vision", true,
                "false for Grid's own policy, which has no separate vision tower (it applies to a Qwen2-VL-family init_checkpoint)");
        }

        var (policy, config) = settings.InitCheckpoint is null
            ? PolicyRuntime.CreatePolicy(settings.Model, settings.MaxNewTokens, settings.Seed, tokenizer)
            : PolicyCheckpoint.Load(settings.InitCheckpoint, tokenizer);
        return new RunPolicy(policy, tokenizer, tokenizer, config);
    }

    /// <summary>A checkpoint folder of either kind (a run's checkpoint, or a Hugging Face folder) as a policy.</summary>
    public static RunPolicy FromCheckpoint(string folder, Tokenizer tokenizer)
    {
        if (PolicyFolder.IsHuggingFace(folder))
        {
            return LoadHuggingFace(folder);
        }

        var (policy, config) = PolicyCheckpoint.Load(folder, tokenizer);
        return new RunPolicy(policy, tokenizer, tokenizer, config);
    }

    /// <summary>A Hugging Face Qwen2-VL-family folder as a run's policy.</summary>
    public static RunPolicy LoadHuggingFace(string folder, bool freezeVision = false)
    {
        var model = HuggingFaceCheckpoint.LoadPolicy(folder);
        if (freezeVision)
        {
            model.FreezeVision();
        }

        return new RunPolicy(model, new QwenPromptCodec(model), Tokenizer.Default, PolicyConfig.ForHub(folder));
    }

    /// <summary>A frozen copy (eval mode, no gradients): the reference policy pi_ref.</summary>
    public PolicyModel FrozenCopy()
    {
        PolicyModel copy;
        if (HubFolder is not null)
        {
            // In place, tensor by tensor: a 2B model's weights (8.8 GB) do not fit one serialized byte array.
            copy = HuggingFaceCheckpoint.LoadPolicy(HubFolder);
            PolicyCheckpoint.CopyWeights(Model, copy);
        }
        else
        {
            return PolicyRuntime.FrozenCopy((VisionLanguagePolicy)Model, Config);
        }

        copy.eval();
        foreach (var parameter in copy.parameters())
        {
            parameter.requires_grad = false;
        }

        return copy;
    }

    /// <summary>
    /// Writes a checkpoint of the current weights into <paramref name="directory"/>: Grid's format for its own model, a
    /// hub-layout folder (the source's dtypes and key names, its tokenizer and processor files) for a Hugging Face one.
    /// </summary>
    public void Save(string directory)
    {
        if (HubFolder is not null)
        {
            HubCheckpoint.Save((QwenVLModel)Model, HubFolder, directory);
        }
        else
        {
            PolicyCheckpoint.Save((VisionLanguagePolicy)Model, Config, directory, _tokenizer);
        }
    }

    public void Dispose() => Model.Dispose();
}
