using Grid.Learning.Objective;
using Grid.Learning.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Learning.Tests.Objective;

/// <summary>Every loss case of grpo_vectors.json, one test per quantity, in float64 like the reference.</summary>
public sealed class GrpoLossReferenceTests
{
    public static TheoryData<int> Cases => new(Enumerable.Range(0, ReferenceVectors.Instance.LossCases.Length));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Per_token_loss_matches_the_pytorch_reference(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        using var run = Run(c, ScalarType.Float64);

        Close.Equal(c.Expected.PerTokenLoss, run.Result.PerTokenLoss.data<double>().ToArray(),
            $"case {caseIndex} ({c.LossType}) per-token loss");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_matches_the_pytorch_reference(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        using var run = Run(c, ScalarType.Float64);

        Assert.Equal(0, run.Result.Loss.dim());
        Close.Equal(c.Expected.Loss, run.Result.Loss.item<double>(), $"case {caseIndex} ({c.LossType}) loss");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_of_the_loss_wrt_logp_matches_pytorch_autograd(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        using var run = Run(c, ScalarType.Float64);

        run.Result.Loss.backward();

        Close.Equal(c.Expected.GradLogp, run.Logp.grad!.data<double>().ToArray(),
            $"case {caseIndex} ({c.LossType}) d loss / d logp");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Clip_fraction_matches_the_pytorch_reference(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        using var run = Run(c, ScalarType.Float64);

        Close.Equal(c.Expected.ClipFraction, run.Result.ClipFraction, $"case {caseIndex} clip fraction");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Low_and_high_clip_fractions_add_up_to_the_clip_fraction(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        using var run = Run(c, ScalarType.Float64);

        // The two events are disjoint: one needs A < 0, the other A > 0.
        Close.Equal(run.Result.ClipFraction, run.Result.ClipFractionLow + run.Result.ClipFractionHigh,
            $"case {caseIndex} low + high clip fraction", 1e-12);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Mean_kl_matches_the_pytorch_reference(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        using var run = Run(c, ScalarType.Float64);

        Close.Equal(c.Expected.MeanKl, run.Result.MeanKl, $"case {caseIndex} mean KL");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32_training_tensors_give_the_reference_loss_and_gradient_to_float_precision(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        using var run = Run(c, ScalarType.Float32);

        run.Result.Loss.backward();

        Assert.Equal(ScalarType.Float32, run.Result.Loss.dtype);
        Assert.Equal(ScalarType.Float32, run.Result.PerTokenLoss.dtype);
        Close.Equal(c.Expected.Loss, run.Result.Loss.item<float>(), $"case {caseIndex} float32 loss", 1e-4);
        Close.Equal(c.Expected.GradLogp, run.Logp.grad!.data<float>().ToArray().Select(g => (double)g).ToArray(),
            $"case {caseIndex} float32 d loss / d logp", 1e-4);
        Close.Equal(c.Expected.MeanKl, run.Result.MeanKl, $"case {caseIndex} float32 mean KL", 1e-4);
    }

    /// <summary>Inputs as <paramref name="dtype"/> tensors; advantages from the file isolate the loss.</summary>
    internal static CaseRun Run(LossCase c, ScalarType dtype)
    {
        var settings = new GrpoLossSettings
        {
            EpsLow = c.EpsLow,
            EpsHigh = c.EpsHigh,
            LossType = SettingNames<LossType>.Parse("loss_type", c.LossType),
            MaxCompletionLength = c.MaxCompletionLength,
        };
        var logp = Matrix(c.Logp, dtype).requires_grad_(true);
        using var old = Matrix(c.OldLogp, dtype);
        using var reference = Matrix(c.RefLogp, dtype);
        using var mask = Matrix(c.Mask, dtype);
        using var advantages = tensor(c.Expected.Advantages, dtype: dtype);
        var result = GrpoLoss.Compute(logp, old, reference, advantages, mask, c.Beta, settings);
        return new CaseRun(logp, result);
    }

    internal static Tensor Matrix(double[][] rows, ScalarType dtype) =>
        tensor(rows.SelectMany(row => row).ToArray(), [rows.Length, rows[0].Length], dtype: dtype);

    internal sealed class CaseRun(Tensor logp, GrpoLossResult result) : IDisposable
    {
        public Tensor Logp { get; } = logp;

        public GrpoLossResult Result { get; } = result;

        public void Dispose()
        {
            Result.Dispose();
            Logp.Dispose();
        }
    }
}
