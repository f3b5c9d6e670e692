using Grid.Tasks;

namespace Grid.Training.Rollouts;

/// <summary>
/// Which prompts a run sees, deterministic from the run seed. Training, SFT demonstrations and evaluation draw
/// from separate seed streams, so held-out evaluation prompts are never trained on.
/// </summary>
public sealed class PromptSource
{
    private const long SftStream = 0x5F7_0001;
    private const long EvalStream = 0xE7A1_0001;
    private const long ValidationStream = 0x7A11_0001;

    private readonly long _seed;

    public PromptSource(long seed) => _seed = seed;

    /// <summary>The prompt at <paramref name="promptIndex"/> of GRPO step <paramref name="step"/>.</summary>
    public TaskExample ForStep(IVisualTask task, long step, int promptIndex, int promptsPerStep) =>
        task.Generate(_seed, (step * promptsPerStep) + promptIndex);

    /// <summary>The <paramref name="index"/>-th supervised demonstration of a task.</summary>
    public TaskExample Demonstration(IVisualTask task, int index) => task.Generate(_seed ^ SftStream, index);

    /// <summary>The <paramref name="index"/>-th held-out evaluation prompt of a task; independent of the run seed so
    /// runs with different seeds are evaluated on the same prompts.</summary>
    public static TaskExample HeldOut(IVisualTask task, int index) => task.Generate(EvalStream, index);

    /// <summary>The <paramref name="index"/>-th validation prompt of a task: for curves during training and for choosing
    /// hyper-parameters, never the held-out test prompts of <see cref="HeldOut"/>; the same for every run seed.</summary>
    public static TaskExample Validation(IVisualTask task, int index) => task.Generate(ValidationStream, index);
}
