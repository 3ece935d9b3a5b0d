// Shared by every shader: the linear workgroup index over a 3-D grid (the host splits large
// counts because one grid dimension is limited to maxComputeWorkGroupCount, often 65535), and
// ggml-style coordinates. Strides `s` are (offset, nb1, nb2, nb3) in 4-byte elements.
uint group_index() {
  return gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
}

uint global_index() { return group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; }

// (i0, i1, i2, i3) of the i-th element of a tensor with ne elements per dimension.
uvec4 coords(uint i, uvec4 ne) {
  const uint i0 = i % ne.x;
  i /= ne.x;
  const uint i1 = i % ne.y;
  i /= ne.y;
  return uvec4(i0, i1, i % ne.z, i / ne.z);
}

uint at(uvec4 c, uvec4 s) { return s.x + c.x + c.y * s.y + c.z * s.z + c.w * s.w; }
