using Grid.Learning.Objective;
using Grid.Learning.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Learning.Tests.Objective;

public sealed class GrpoLossTests
{
    private static readonly GrpoLossSettings s_settings = new() { MaxCompletionLength = 4 };

    [Fact]
    public void With_one_pass_the_gradient_is_the_advantage_times_the_token_share()
    {
        // old == logp.detach(): rho = 1, so d loss / d logp = -A_i / |o_i| / B for grpo and beta = 0.
        using var logp = tensor(new[] { -1.0, -2.0, -0.5, -3.0 }, [2, 2]).requires_grad_(true);
        using var old = logp.detach().clone();
        using var mask = tensor(new[] { 1.0, 1.0, 1.0, 0.0 }, [2, 2]);
        using var advantages = tensor(new[] { 0.5, -1.0 });

        using var result = GrpoLoss.Compute(logp, old, old, advantages, mask, beta: 0.0, s_settings);
        result.Loss.backward();

        Assert.Equal([-0.125, -0.125, 0.5, 0.0], logp.grad!.data<double>().ToArray());
        Assert.Equal(0.0, result.MeanKl);
        Assert.Equal(0.0, result.ClipFraction);
    }

    [Fact]
    public void Clip_fractions_split_into_low_for_negative_and_high_for_positive_advantages()
    {
        // rho = e^{-0.5} ~ 0.61 with A < 0 (clipped low), rho = e^{0.5} ~ 1.65 with A > 0 (clipped high),
        // rho = 1 on the other two tokens.
        using var logp = tensor(new[] { -1.5, -1.0, -0.5, -1.0 }, [2, 2]);
        using var old = full(2, 2, -1.0, dtype: ScalarType.Float64);
        using var mask = ones(2, 2, dtype: ScalarType.Float64);
        using var advantages = tensor(new[] { -1.0, 1.0 });

        using var result = GrpoLoss.Compute(logp, old, old, advantages, mask, beta: 0.04, s_settings);

        Assert.Equal(0.25, result.ClipFractionLow);
        Assert.Equal(0.25, result.ClipFractionHigh);
        Assert.Equal(0.5, result.ClipFraction);
    }

    [Fact]
    public void Intermediate_tensors_are_disposed_and_the_returned_ones_survive_until_the_result_is_disposed()
    {
        var c = ReferenceVectors.Instance.LossCases[5];
        using var logp = GrpoLossReferenceTests.Matrix(c.Logp, ScalarType.Float64).requires_grad_(true);
        using var old = GrpoLossReferenceTests.Matrix(c.OldLogp, ScalarType.Float64);
        using var reference = GrpoLossReferenceTests.Matrix(c.RefLogp, ScalarType.Float64);
        using var mask = GrpoLossReferenceTests.Matrix(c.Mask, ScalarType.Float64);
        using var advantages = tensor(c.Expected.Advantages);
        var settings = s_settings with { MaxCompletionLength = c.MaxCompletionLength };
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        var result = GrpoLoss.Compute(logp, old, reference, advantages, mask, c.Beta, settings);
        long during = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        result.Dispose();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        Assert.Equal(before + 2, during);
        Assert.Equal(before, after);
    }

    [Fact]
    public void The_result_tensors_belong_to_the_callers_dispose_scope()
    {
        using var logp = tensor(new[] { -1.0, -2.0 }, [1, 2]).requires_grad_(true);
        using var old = logp.detach().clone();
        using var mask = ones(1, 2, dtype: ScalarType.Float64);
        using var advantages = tensor(new[] { 1.0 });
        GrpoLossResult result;
        using (NewDisposeScope())
        {
            result = GrpoLoss.Compute(logp, old, old, advantages, mask, 0.1, s_settings);
            Assert.Equal(-1.0, result.Loss.item<double>(), 12);
        }

        Assert.True(result.Loss.IsInvalid);
        Assert.True(result.PerTokenLoss.IsInvalid);
    }

    [Fact]
    public void Dr_grpo_divides_the_token_sum_by_batch_times_max_completion_length()
    {
        using var logp = zeros(2, 3, dtype: ScalarType.Float64);
        using var mask = tensor(new[] { 1.0, 1.0, 1.0, 1.0, 0.0, 0.0 }, [2, 3]);
        using var advantages = tensor(new[] { 1.0, 1.0 });
        var settings = new GrpoLossSettings { LossType = LossType.DrGrpo, MaxCompletionLength = 8 };

        using var result = GrpoLoss.Compute(logp, logp, logp, advantages, mask, 0.0, settings);

        Assert.Equal(-4.0 / 16, result.Loss.item<double>(), 12);
    }

    [Fact]
    public void A_negative_beta_is_refused_naming_beta()
    {
        using var logp = zeros(1, 1, dtype: ScalarType.Float64);
        using var advantages = zeros(1, dtype: ScalarType.Float64);

        var error = Assert.Throws<InvalidSettingException>(
            () => GrpoLoss.Compute(logp, logp, logp, advantages, logp, -0.1, s_settings));

        Assert.Equal("Invalid setting beta = -0.1: must be a finite number >= 0.", error.Message);
    }

    [Fact]
    public void Mismatched_shapes_are_refused_naming_the_tensor_and_both_shapes()
    {
        using var logp = zeros(2, 3, dtype: ScalarType.Float64);
        using var mask = zeros(2, 2, dtype: ScalarType.Float64);
        using var advantages = zeros(3, dtype: ScalarType.Float64);
        using var twoAdvantages = zeros(2, dtype: ScalarType.Float64);

        var maskError = Assert.Throws<ArgumentException>(
            () => GrpoLoss.Compute(logp, logp, logp, twoAdvantages, mask, 0, s_settings));
        var advantagesError = Assert.Throws<ArgumentException>(
            () => GrpoLoss.Compute(logp, logp, logp, advantages, logp, 0, s_settings));

        Assert.Contains("mask has shape [2, 2] but must match logp, [2, 3]", maskError.Message);
        Assert.Contains("advantages has shape [3] but must be [B] = [2]", advantagesError.Message);
    }
}
