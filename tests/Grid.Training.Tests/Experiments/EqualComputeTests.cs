using Grid.Core.Settings;
using Grid.Training.Experiments;

namespace Grid.Training.Tests.Experiments;

public sealed class EqualComputeTests
{
    private static readonly ComputeShape Shape = new(Steps: 60, PromptsPerStep: 16, GroupSize: 8, MaxNewTokens: 40);

    [Fact]
    public void Arms_of_the_same_shape_pass()
    {
        EqualCompute.Require([("grpo", Shape), ("grpo-d", Shape), ("adaptive", Shape)]);
    }

    [Theory]
    [InlineData("steps")]
    [InlineData("prompts_per_step")]
    [InlineData("group_size")]
    [InlineData("max_new_tokens")]
    public void Arms_that_differ_are_refused_naming_the_field_and_each_arms_value(string field)
    {
        var other = field switch
        {
            "steps" => Shape with { Steps = 30 },
            "prompts_per_step" => Shape with { PromptsPerStep = 8 },
            "group_size" => Shape with { GroupSize = 4 },
            _ => Shape with { MaxNewTokens = 24 },
        };

        var e = Assert.Throws<InvalidSettingException>(() => EqualCompute.Require([("grpo", Shape), ("grpo-d", other)]));

        Assert.Equal(field, e.Setting);
        Assert.Contains("grpo ", e.Message);
        Assert.Contains("grpo-d ", e.Message);
        Assert.Contains("equal compute", e.Message);
    }
}
